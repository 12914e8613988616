"""Score a saved classifier on a split: predictions, HF `evaluate` metrics, and per-class precision/recall/f1."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from modelmill.errors import ConfigError
from modelmill.metrics import load_metric
from modelmill.spec import PER_CLASS_METRICS

AVERAGED = frozenset({"precision", "recall", "f1"})


def predict(model_dir: Path, test: datasets.Dataset, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and true label ids for a tokenized split (with a `labels` column)."""
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    with tempfile.TemporaryDirectory() as scratch:
        args = TrainingArguments(
            output_dir=scratch,
            per_device_eval_batch_size=batch_size,
            report_to="none",
            disable_tqdm=True,
            dataloader_pin_memory=torch.cuda.is_available(),
        )
        trainer = Trainer(model=model, args=args, data_collator=DataCollatorWithPadding(tokenizer))
        output = trainer.predict(test)
    return np.argmax(output.predictions, axis=-1), output.label_ids


def compute_metrics(
    names: list[str], predictions: np.ndarray, references: np.ndarray, average: str, num_labels: int
) -> dict[str, float]:
    """Each named metric on the predictions; precision/recall/f1 use `average`."""
    if average == "binary" and num_labels != 2:
        raise ConfigError(f"evaluate.average: 'binary' needs 2 labels, the data has {num_labels}; use macro")
    metrics: dict[str, float] = {}
    for name in names:
        kwargs: dict[str, Any] = {"average": average} if name in AVERAGED else {}
        result = load_metric(name).compute(predictions=predictions, references=references, **kwargs)
        metrics.update({key: float(value) for key, value in result.items() if isinstance(value, (int, float))})
    return metrics


def per_class_metrics(predictions: np.ndarray, references: np.ndarray, labels: list[str]) -> dict[str, float]:
    """`precision[label]`, `recall[label]` and `f1[label]` for every class."""
    from sklearn.metrics import precision_recall_fscore_support

    values = precision_recall_fscore_support(
        references, predictions, labels=list(range(len(labels))), zero_division=0
    )[:3]
    return {
        f"{metric}[{label}]": float(column[index])
        for metric, column in zip(PER_CLASS_METRICS, values)
        for index, label in enumerate(labels)
    }
