"""What each torchrun process runs: `python -m modelmill.training.worker <job.json>`. It imports no Prefect and
never the flow file (an orchestrator that re-executed the command line would relaunch the whole flow).

Every rank writes how it ended under `<workdir>/ranks/`: its world size and final evaluation, or its error, so the
task can name the failing rank's error instead of torchrun's interleaved tracebacks. Rank 0 writes the manifest.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

from pydantic import BaseModel

from modelmill.config import ModelSpec, TrainSpec
from modelmill.manifests import TokenizedManifest
from modelmill.search.pruning import TrialHandle


class TrainingJob(BaseModel):
    """Everything a worker needs, written by the train task."""

    tokens: TokenizedManifest
    model: ModelSpec
    spec: TrainSpec
    workdir: Path
    output: Path
    trial: TrialHandle | None = None


def rank_file(workdir: Path, rank: int) -> Path:
    return workdir / "ranks" / f"rank-{rank}.json"


def result_file(workdir: Path) -> Path:
    return workdir / "result.json"


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    scratch.write_text(json.dumps(payload, default=str), encoding="utf-8")
    scratch.replace(path)


def close_group() -> bool:
    """Tear the process group down on success, before the interpreter does: gloo threads that outlive it can abort
    the process at exit (torchrun then fails a finished training). Not after an error: a peer may still be in a
    collective. True once no group is left."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    return not (dist.is_available() and dist.is_initialized())


def main(job_file: str) -> int:
    import torch

    from modelmill.training.fine_tune import fine_tune, world
    from modelmill.training.relay import EventRelay

    job = TrainingJob.model_validate_json(Path(job_file).read_text(encoding="utf-8"))
    rank, size = world()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))  # explicit: torchrun's default is 1
    try:
        manifest = fine_tune(job.tokens, job.model, job.spec, job.workdir, job.output,
                             callbacks=[EventRelay()] if rank == 0 else [], keep_workdir=True, trial=job.trial)
    except BaseException as exc:  # noqa: BLE001 - reported to the task, then the process fails
        write_json(rank_file(job.workdir, rank), {
            "rank": rank, "world_size": size, "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=20),
        })
        return 1
    evaluation = [entry for entry in manifest.history if "eval_loss" in entry]
    write_json(rank_file(job.workdir, rank), {"rank": rank, "world_size": size, "evaluation": evaluation,
                                              "threads": torch.get_num_threads(), "group_closed": close_group()})
    if rank == 0:
        write_json(result_file(job.workdir), json.loads(manifest.model_dump_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
