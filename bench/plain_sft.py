"""The baseline of `make bench-sft`: a plain TRL `SFTTrainer` script with the guides' settings (every row padded to
`max_length`, no packing, loss on every token, fp32), on the same chat rows, model, epochs, batch size, learning rate
and seed as the modelmill run it is compared with. It imports no modelmill; it saves the model and prints one JSON
line of what it measured.

    python bench/plain_sft.py DATA_DIR --model MODEL_DIR --output OUT_DIR [--rows 160 --epochs 1 --batch-size 8]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import datasets
from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
from trl import SFTConfig, SFTTrainer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path)
    parser.add_argument("--model", required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=160)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=160)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    train = datasets.load_dataset("json", data_files=str(args.data / "train.jsonl"))["train"]
    train = train.select(range(min(args.rows, train.num_rows)))
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    set_seed(args.seed)
    model = AutoModelForCausalLM.from_pretrained(args.model)
    with tempfile.TemporaryDirectory() as scratch:
        config = SFTConfig(
            output_dir=scratch, num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
            learning_rate=args.learning_rate, seed=args.seed, max_length=args.max_length,
            pad_to_multiple_of=args.max_length, packing=False, save_strategy="no", report_to=[], logging_steps=10,
            use_cpu=True, dataloader_num_workers=0,
        )
        trainer = SFTTrainer(model=model, args=config, train_dataset=train, processing_class=tokenizer)
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
        trainer.save_model(str(args.output))
    tokenizer.save_pretrained(str(args.output))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print(json.dumps({"train_seconds": seconds, "peak_rss_gib": peak, "rows": train.num_rows}))


if __name__ == "__main__":
    main()
