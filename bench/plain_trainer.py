"""The baseline: a plain `transformers.Trainer` script with the guides' settings (pad every example to
`max_length=128`, fp32), on the same data, model, epochs, batch size, learning rate and seed as the modelmill run
it is compared with. It imports no modelmill; it prints one JSON line of what it measured.

    python bench/plain_trainer.py DATA_DIR --model MODEL_DIR [--epochs 1 --batch-size 32 --learning-rate 5e-5]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import datasets
import numpy as np
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments, set_seed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path)
    parser.add_argument("--model", required=True)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    raw = datasets.load_dataset("csv", data_files={"train": str(args.data / "train.csv"),
                                                   "test": str(args.data / "test.csv")})
    encoded = raw.map(lambda batch: tokenizer(batch["text"], padding="max_length", truncation=True,
                                              max_length=args.max_length), batched=True)
    set_seed(args.seed)  # before the classifier head exists: Trainer seeds only once the model is built
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=2)
    with tempfile.TemporaryDirectory() as scratch:
        training = TrainingArguments(
            output_dir=scratch, num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
            per_device_eval_batch_size=64, learning_rate=args.learning_rate, seed=args.seed, report_to="none",
            save_strategy="no", eval_strategy="no", disable_tqdm=True, logging_strategy="no",
        )
        trainer = Trainer(model=model, args=training, train_dataset=encoded["train"])
        started = time.perf_counter()
        trainer.train()
        train_seconds = time.perf_counter() - started
        predictions = trainer.predict(encoded["test"])
    accuracy = float((np.argmax(predictions.predictions, axis=-1) == np.array(encoded["test"]["label"])).mean())
    print(json.dumps({
        "train_seconds": train_seconds,
        "train_samples_per_second": encoded["train"].num_rows * args.epochs / train_seconds,
        "test_accuracy": accuracy,
    }))


if __name__ == "__main__":
    main()
