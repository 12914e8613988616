"""`make bench-search`: a 6-trial hyperparameter search on SST-2 from ../shared/data/sst2 with the shipped MiniLM,
against the untuned defaults: the best trial's validation and test accuracy beside the defaults', and the search's
wall time with 1 and with 2 trials at once. Every figure is measured in this one run.

    python bench/search.py [--rows 2000] [--trials 6]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from vs_plain import SST2, machine, prepare  # noqa: E402 - the same splits and pipeline as the plain benchmark

SPACE = {"learning_rate": {"log_uniform": [1e-5, 3e-4]}, "epochs": {"choice": [1, 2]},
         "warmup_ratio": {"uniform": [0.0, 0.2]}}


def run(project: Path, home: Path, search: dict | None) -> tuple[float, dict]:
    """`modelmill run sst2 --dry-run` on a fresh home; its wall time and the figures of its run record."""
    pipelines = yaml.safe_load((project / "pipelines.yaml").read_text())
    pipeline = pipelines["pipelines"]["sst2"]
    pipeline.pop("search", None)
    if search is not None:
        pipeline["search"] = search
    pipeline["evaluate"]["baselines"] = {"must_beat": []}
    (project / "pipelines.yaml").write_text(yaml.safe_dump(pipelines), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env.update(HF_HUB_OFFLINE="1", PREFECT_HOME=str(home.parent / "prefect-home"), MODELMILL_HOME=str(home))
    started = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).parent / "modelmill"), "run", "sst2", "--dry-run"], cwd=project,
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 3):
        sys.exit(f"modelmill run failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    (record,) = (home / "runs" / "sst2").glob("*.json")
    return wall, json.loads(record.read_text())["figures"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="train rows of SST-2 (0: all 6,920)")
    parser.add_argument("--trials", type=int, default=6)
    args = parser.parse_args()
    if not SST2.is_dir():
        sys.exit(f"{SST2}: SST-2 is not there (the benchmark reads ../shared/data/sst2 beside the repository)")
    print(f"Machine: {machine()}")
    work = Path(tempfile.mkdtemp(prefix="modelmill-bench-search-"))
    counts = prepare(work, args.rows or None, argparse.Namespace(epochs=1.0, batch_size=32, learning_rate=5e-5))
    print(f"SST-2: {counts}; all-MiniLM-L6-v2; defaults: 1 epoch, batch 32, learning rate 5e-5; search: "
          f"{args.trials} trials of TPE (seed 42) over {SPACE}, objective validation accuracy", flush=True)
    project = work / "project"
    search = {"objective": {"metric": "accuracy"}, "trials": args.trials, "sampler": {"seed": 42}, "space": SPACE}
    walls, figures = {}, {}
    for label, spec in [("defaults", None), ("search, 1 at once", {**search, "parallel": 1}),
                        ("search, 2 at once", {**search, "parallel": 2})]:
        walls[label], figures[label] = run(project, work / label.replace(" ", "-").replace(",", ""), spec)
        print(f"{label}: {walls[label]:.1f} s", flush=True)

    print("\n| run | best values | validation accuracy | test accuracy | test f1 | wall (s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, found in figures.items():
        best = None
        if "search" in found:
            report = found["search"]
            best = next(trial for trial in report["trials"] if trial["number"] == report["best"])
        values = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in best["values"].items()) \
            if best else "learning_rate 5e-05, epochs 1, warmup_ratio 0"
        validation = f"{best['objective']:.4f}" if best else "-"
        print(f"| {label} | {values} | {validation} | {found['metrics']['accuracy']:.4f} | "
              f"{found['metrics'].get('f1', float('nan')):.4f} | {walls[label]:.1f} |")
    one, two = walls["search, 1 at once"], walls["search, 2 at once"]
    print(f"\nSearch wall time, 2 trials at once against 1: {one / two:.2f}x ({one:.1f} s -> {two:.1f} s)")
    print(f"(work folder: {work})")


if __name__ == "__main__":
    main()
