"""`make bench-examples`: runs every shipped example pipeline (`examples/*/pipelines.yaml`, or the names given) end
to end as `modelmill run <name> -f <file> --dry-run` on a fresh home, and prints the dated table of test metrics and
stage times that the task-type pages of the documentation quote.

    python bench/examples.py [entities answers summaries news-events assistant]
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def example_pipelines() -> dict[str, Path]:
    """Each example's pipelines by name, the last of a file being the one a run of the file ends with."""
    found = {}
    for path in sorted((ROOT / "examples").glob("*/pipelines.yaml")):
        for name in yaml.safe_load(path.read_text(encoding="utf-8"))["pipelines"]:
            found[name] = path
    return found


def run(name: str, path: Path, home: Path) -> dict:
    """One dry run on `home`: its run record's figures and the wall time of the whole process."""
    started = time.perf_counter()
    env = {**os.environ, "MODELMILL_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "modelmill.cli", "run", name, "-f", str(path), "--dry-run"],
                            capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - started
    records = sorted((home / "runs" / name).glob("*.json"))
    if result.returncode not in (0, 3) or not records:
        raise SystemExit(f"{name}: exit {result.returncode}\n{result.stderr[-2000:]}")
    return {**json.loads(records[-1].read_text(encoding="utf-8"))["figures"], "wall_seconds": seconds}


def main() -> None:
    pipelines = example_pipelines()
    names = sys.argv[1:] or [name for name, path in pipelines.items()
                             if name == list(yaml.safe_load(path.read_text())["pipelines"])[-1]]
    print(f"# Example pipelines, measured {datetime.date.today().isoformat()} ({os.cpu_count()} CPU cores)\n")
    print("| pipeline | file | test metrics | train (s) | whole run (s) |\n| --- | --- | --- | --- | --- |")
    for name in names:
        with tempfile.TemporaryDirectory() as home:
            figures = run(name, pipelines[name], Path(home))
        metrics = ", ".join(f"{metric} {value:.3f}" for metric, value in figures.get("metrics", {}).items())
        train = figures.get("work_seconds", {}).get("train", 0.0)
        print(f"| {name} | {pipelines[name].relative_to(ROOT)} | {metrics} | {train:.0f} | "
              f"{figures['wall_seconds']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
