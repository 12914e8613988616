"""Training on several processes of one node: the train task launches torchrun on the worker module, streams
rank 0's progress into its own callbacks, and reads the manifest rank 0 wrote, or the failing rank's error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmill.config import ModelSpec, TrainSpec
from modelmill.hub.errors import scrub
from modelmill.manifests import ModelManifest, TokenizedManifest
from modelmill.runtime.errors import ConfigError, PermanentError, TransientError
from modelmill.search.pruning import TrialHandle
from modelmill.storage.settings import get_settings
from modelmill.training.events import replay
from modelmill.training.worker import TrainingJob, rank_file, result_file

if TYPE_CHECKING:
    from transformers import TrainerCallback

OUTPUT_TAIL = 40  # lines of the workers' own output kept for an error that no rank reported


class TrainingProcessFailed(PermanentError):
    """A training process raised an error; the message is that rank's error and traceback (not retried, as in
    one process)."""


class TrainingProcessCrashed(TransientError):
    """A training process died without reporting an error (killed, out of memory): retried, and the retry
    resumes from the last complete checkpoint."""


def resolve_processes(spec: TrainSpec) -> int:
    """`train.processes`: auto is the number of visible GPUs (1 without any); a count must split
    `train.batch_size` evenly, since the batch is the effective one, shared by the processes."""
    import torch

    count = (torch.cuda.device_count() or 1) if spec.processes == "auto" else int(spec.processes)
    if spec.batch_size % count:
        raise ConfigError(
            f"train.batch_size {spec.batch_size} cannot be split between {count} processes (train.processes: "
            f"{spec.processes}): use a multiple of {count}"
        )
    return count


def threads_per_process(count: int, share: int = 1) -> int:
    """CPU threads for each process: the machine's cores shared out between the `count` processes of each of the
    `share` trainings running at once (torchrun alone would give each one)."""
    return max(1, (os.cpu_count() or 1) // (count * share))


def launch_command(count: int, job_file: Path) -> list[str]:
    """torchrun on the worker module; `--standalone` picks a free rendezvous port (concurrent runs never clash),
    on the loopback address (no lookup of the host's name)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={count}",
            "--local-addr=127.0.0.1", "-m", "modelmill.training.worker", str(job_file)]


def rank_reports(workdir: Path, count: int) -> list[dict[str, Any]]:
    """What each rank wrote when it ended, in rank order, each with the time it was written."""
    reports = []
    for rank in range(count):
        path = rank_file(workdir, rank)
        if path.is_file():
            reports.append({**json.loads(path.read_text(encoding="utf-8")), "written": path.stat().st_mtime})
    return reports


def without_token(text: str) -> str:
    """What a training process wrote, fit for a run state: without the Hub token the processes inherit, bearer
    credentials or anything shaped like a Hub token."""
    token = get_settings().hf_token
    return scrub(text, (token.get_secret_value(),) if token is not None else ())


def failure(workdir: Path, count: int, code: int, tail: Sequence[str]) -> PermanentError | TransientError:
    """Why a launch failed. A rank that ended without a word was killed (the others' errors follow from it): a
    crash, retried. Else the error of the rank that failed first (the others lost their peer after it). What the
    processes wrote is told without the token."""
    reports = rank_reports(workdir, count)
    silent = sorted(set(range(count)) - {report["rank"] for report in reports})
    said = "its last output:\n" + without_token("\n".join(tail))
    if silent:
        return TrainingProcessCrashed(
            f"training process(es) {', '.join(map(str, silent))} of {count} died without an error (killed, or out "
            f"of memory); torchrun exited with {code}; {said}",
            reason=f"training process(es) {', '.join(map(str, silent))} of {count} died without an error",
        )
    failed = [report for report in reports if "error" in report]
    if not failed:
        return TrainingProcessCrashed(f"torchrun exited with {code} after every process ended; {said}",
                                      reason=f"torchrun exited with {code}")
    first = min(failed, key=lambda report: (report["written"], report["rank"]))
    error = without_token(first["error"])
    return TrainingProcessFailed(
        f"training process {first['rank']} of {count} failed: {error}\n\n{without_token(first['traceback'])}",
        reason=f"training process {first['rank']} of {count} failed: {error}",
    )


def train_in_processes(
    tokens: TokenizedManifest, model: ModelSpec, spec: TrainSpec, workdir: Path, output: Path, count: int,
    callbacks: Sequence[TrainerCallback] = (), log: Any = None, trial: TrialHandle | None = None,
) -> ModelManifest:
    """Run `fine_tune` in `count` processes under torchrun; return rank 0's manifest, or raise the failing rank's
    error. Checkpoints are restored (from the home when it is remote) before the workers start."""
    from modelmill.training.remote_checkpoints import restore_checkpoint

    restore_checkpoint(output.parent.name, workdir / "checkpoints")
    for stale in (workdir / "ranks").glob("*.json"):
        stale.unlink()
    result_file(workdir).unlink(missing_ok=True)
    job_file = workdir / "job.json"
    workdir.mkdir(parents=True, exist_ok=True)
    job_file.write_text(TrainingJob(tokens=tokens, model=model, spec=spec, workdir=workdir, output=output,
                                    trial=trial).model_dump_json(), encoding="utf-8")
    threads = threads_per_process(count, spec.share)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false",
           "PYTHONUNBUFFERED": "1"}
    tail: deque[str] = deque(maxlen=OUTPUT_TAIL)
    with subprocess.Popen(launch_command(count, job_file), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, env=env, cwd=os.getcwd()) as process:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                if not replay(line.rstrip("\n"), callbacks):
                    tail.append(line.rstrip("\n"))
        except BaseException:
            process.terminate()
            raise
        code = process.wait()
    if code != 0 or not result_file(workdir).is_file():
        raise failure(workdir, count, code, list(tail))
    manifest = ModelManifest.model_validate_json(result_file(workdir).read_text(encoding="utf-8"))
    if log is not None:
        sizes = {report.get("world_size") for report in rank_reports(workdir, count)}
        log.info("Trained in %d processes (world size %s), %d CPU threads each", count, sizes.pop() if len(sizes) == 1
                 else sizes, threads_per_process(count, spec.share))
    return manifest
