"""`make bench-adapters`: a LoRA adapter (train.adapter) against the full fine-tune of the same pipeline, on an SST-2
subset (../shared/data/sst2), the entities (NER) and the answers (QA) examples, with the shipped MiniLM. Every figure
is measured in this one run; the adapter's are printed as ratios against the full fine-tune's.

Each run is the real flow (`modelmill run`) in a process of its own. Each method is tuned on its own: three learning
rates around its usual ones, each scored on the validation split by a run whose test split is the validation file
(the validation loss, which a search can pick by, picks badly for entity F1); the best one's run on the test split is
reported. So each method is compared at its own tuned learning rate:

- quality: the main test metric of the released model (accuracy; entity F1; SQuAD F1), LoRA within 1 point of full;
- trainable parameters: the tensors of the published artifact (the adapter with its head, or the whole model);
- artifact size: the bytes of the published weights file;
- throughput: training examples per second of the reported run;
- peak memory: the reported run's whole process, peak RSS.

    python bench/adapters.py [--sst2-rows 2000] [--only sst2,entities,answers]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SST2 = ROOT.parent / "shared" / "data" / "sst2"
LEARNING_RATES = {"full": [3e-5, 1e-4, 3e-4], "lora": [1e-3, 3e-3, 1e-2]}
ADAPTER = {"method": "lora", "r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"}
MAIN_METRIC = {"sst2": "accuracy", "entities": "f1", "answers": "f1"}


def sst2_pipeline(folder: Path, rows: int) -> dict[str, Any]:
    """The bench's SST-2 pipeline on the first `rows` training sentences, the whole validation and test splits."""
    import csv

    with (SST2 / "train.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        kept = [row for _, row in zip(range(rows), reader, strict=False)]
    train = folder / "sst2-train.csv"
    with train.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(kept[0]))
        writer.writeheader()
        writer.writerows(kept)
    spec = yaml.safe_load((BENCH / "sst2.pipelines.yaml").read_text(encoding="utf-8"))["pipelines"]["sst2"]
    spec["data"]["files"] = {"train": str(train), "validation": str(SST2 / "validation.csv"),
                             "test": str(SST2 / "test.csv")}
    spec["evaluate"].pop("slices", None)
    return spec


def example_pipeline(name: str) -> dict[str, Any]:
    """An example's pipeline with its data files made absolute."""
    folder = ROOT / "examples" / name
    spec = yaml.safe_load((folder / "pipelines.yaml").read_text(encoding="utf-8"))["pipelines"][name]
    spec["data"]["files"] = {split: str(folder / path) for split, path in spec["data"]["files"].items()}
    return spec


def variant(spec: dict[str, Any], method: str, learning_rate: float, epochs: float | None = None,
            test: str | None = None) -> dict[str, Any]:
    """`spec` as one run of the comparison: no gates (the bench reports, it does not release), the method's
    adapter (LoRA) and learning rate, and, for a tuning run, the validation file as its test split."""
    spec = json.loads(json.dumps(spec))
    evaluate = spec["evaluate"]
    evaluate.pop("class_thresholds", None)
    evaluate["thresholds"] = {}
    if "baselines" in evaluate:
        evaluate["baselines"] = {"must_beat": []}
    spec["train"].pop("early_stopping_patience", None)
    spec["train"]["learning_rate"] = learning_rate
    if epochs is not None:
        spec["train"]["epochs"] = epochs
    if method == "lora":
        spec["train"]["adapter"] = dict(ADAPTER)
    if test is not None:  # a tuning run: its "test" split is the validation file, on purpose
        spec["data"]["files"] = {**spec["data"]["files"], "test": test}
        checks = spec.setdefault("validation", {}).setdefault("checks", {})
        checks["overlap"] = {"enabled": False}
    spec["push"] = {"repo_id": f"modelmill-bench/{method}"}
    return spec


def tuned(dataset: str, spec: dict[str, Any], method: str, epochs: float | None, home: Path, work: Path
          ) -> dict[str, Any]:
    """The method at the learning rate (of its three) whose model scores best on the validation split (each scored
    by a run whose test split is the validation file), then that learning rate's run on the test split."""
    metric, validation = MAIN_METRIC[dataset], spec["data"]["files"]["validation"]
    on_validation = {
        rate: measure(f"{dataset}-{method}-tune-{index}", variant(spec, method, rate, epochs, validation), home,
                      work)["metrics"][metric]
        for index, rate in enumerate(LEARNING_RATES[method])
    }
    best = max(on_validation, key=lambda rate: on_validation[rate])
    final = measure(f"{dataset}-{method}", variant(spec, method, best, epochs), home, work)
    return {**final, "learning_rate": best, "validation": on_validation}


def weights_of(folder: Path) -> tuple[int, int]:
    """(tensor elements, bytes) of the weights file in a published train folder."""
    from safetensors import safe_open

    path = next(folder / name for name in ("adapter_model.safetensors", "model.safetensors")
                if (folder / name).is_file())
    with safe_open(str(path), framework="pt") as weights:
        count = sum(math.prod(weights.get_slice(name).get_shape()) for name in weights.keys())
    return count, path.stat().st_size


def measure(name: str, spec: dict[str, Any], home: Path, work: Path) -> dict[str, Any]:
    """Run the pipeline in a process of its own; its released model's figures and the process's peak RSS."""
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"pipelines": {name: spec}}, sort_keys=False), encoding="utf-8")
    environment = {**os.environ, "MODELMILL_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([str(Path(sys.executable).parent / "modelmill"), "run", name, "-f", str(path)], cwd=ROOT,
                               env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if status != 0:
        raise SystemExit(f"{name} failed:\n{errors[-3000:]}")
    record = json.loads(max((home / "runs" / name).glob("*.json")).read_text(encoding="utf-8"))
    trained = [home / "artifacts" / folder for folder in record["artifacts"] if folder.startswith("train/")]
    parameters, size = weights_of(trained[-1])
    return {"metrics": record["figures"]["metrics"], "per_second": record["figures"].get("train_samples_per_second"),
            "peak_gib": usage.ru_maxrss / 2**20, "parameters": parameters, "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sst2-rows", type=int, default=2000)
    parser.add_argument("--only", default="sst2,entities,answers")
    parser.add_argument("--epochs", type=float, default=None, help="both sides (default: each pipeline's own)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="modelmill-bench-adapters-") as scratch:
        work = Path(scratch)
        for dataset in args.only.split(","):
            spec = sst2_pipeline(work, args.sst2_rows) if dataset == "sst2" else example_pipeline(dataset)
            figures = {method: tuned(dataset, spec, method, args.epochs, work / "home", work)
                       for method in ("full", "lora")}
            rows.append((dataset, figures))
            print(f"{dataset}: {json.dumps(figures)}", flush=True)
    report(rows)


def report(rows: list[tuple[str, dict[str, dict[str, Any]]]]) -> None:
    print("\n| data | main metric | full (learning rate) | LoRA (learning rate) | LoRA - full | trainable "
          "params (LoRA / full) | artifact bytes (LoRA / full) | examples/s (LoRA / full) | peak RSS GiB (LoRA / "
          "full) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    failed = []
    for dataset, figures in rows:
        full, lora = figures["full"], figures["lora"]
        metric = MAIN_METRIC[dataset]
        gap = lora["metrics"][metric] - full["metrics"][metric]
        if gap < -0.01:
            failed.append(dataset)
        print(f"| {dataset} | {metric} | {full['metrics'][metric]:.4f} ({full['learning_rate']:g}) | "
              f"{lora['metrics'][metric]:.4f} ({lora['learning_rate']:g}) | "
              f"{gap:+.4f} | {lora['parameters']:,} / {full['parameters']:,} = "
              f"{lora['parameters'] / full['parameters']:.3f} | {lora['bytes']:,} / {full['bytes']:,} = "
              f"{lora['bytes'] / full['bytes']:.3f} | {lora['per_second']:.1f} / {full['per_second']:.1f} = "
              f"{lora['per_second'] / full['per_second']:.2f}x | {lora['peak_gib']:.2f} / {full['peak_gib']:.2f} = "
              f"{lora['peak_gib'] / full['peak_gib']:.2f} |")
    print("\nLoRA within 1 point of the full fine-tune: "
          + ("yes, on every data set" if not failed else f"NO on {', '.join(failed)}"))


if __name__ == "__main__":
    main()
