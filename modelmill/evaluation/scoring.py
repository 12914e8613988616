"""Score a saved classifier on a split: probabilities, predictions (with an optional decision threshold), HF
`evaluate` metrics, per-class precision/recall/f1, support and the confusion matrix."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelmill.config import MACRO_F1, PER_CLASS_METRICS
from modelmill.data.facts import column
from modelmill.evaluation.batches import saved_model
from modelmill.manifests import Scores
from modelmill.metrics import SHIPPED_METRICS, load_metric
from modelmill.metrics.formulas import compute_shipped
from modelmill.runtime.errors import ConfigError

if TYPE_CHECKING:
    import datasets

AVERAGED = frozenset({"precision", "recall", "f1"})


@lru_cache(maxsize=2)
def loaded_classifier(model_dir: str) -> tuple[Any, Any, Any]:
    """The saved classifier (in eval mode, on the GPU when there is one), its tokenizer and its device; loaded once
    per stage whatever the number of splits it scores (a published model folder never changes)."""
    from transformers import AutoModelForSequenceClassification

    return saved_model(AutoModelForSequenceClassification, model_dir)


def predict_probabilities(model_dir: Path, split: datasets.Dataset, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities (softmax) and true label ids for a tokenized split (with a `labels` column). Batches go
    through in order of length (padding costs nothing then), and the rows come back in the split's order."""
    import torch

    model, tokenizer, device = loaded_classifier(str(model_dir))
    references = np.asarray(column(split, "labels"))
    order = np.argsort([len(ids) for ids in column(split, "input_ids")], kind="stable")
    inputs = split.select_columns([name for name in tokenizer.model_input_names if name in split.column_names])
    probabilities = np.zeros((split.num_rows, model.config.num_labels), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, split.num_rows, batch_size):
            rows = order[start:start + batch_size]
            batch = tokenizer.pad(inputs[rows.tolist()], return_tensors="pt").to(device)
            probabilities[rows] = torch.softmax(model(**batch).logits.float(), dim=-1).cpu().numpy()
    return probabilities, references


Cutoff = tuple[int, float]
"""A binary model's positive label id and the probability at or above which it is predicted."""


def labels_at(probabilities: np.ndarray, cutoff: Cutoff | None = None) -> np.ndarray:
    """Predicted label ids: the most probable class, or the positive class when its probability reaches `cutoff`."""
    if cutoff is None:
        return np.argmax(probabilities, axis=-1)
    positive, value = cutoff
    return np.where(probabilities[:, positive] >= value, positive, 1 - positive)


def stored_cutoff(model_dir: Path) -> Cutoff | None:
    """The decision threshold a published model carries in its config.json (an adapter: in its record) as
    `decision_threshold`, if any."""
    from modelmill.training.adapters import RECORD, is_adapter

    config = json.loads((Path(model_dir) / (RECORD if is_adapter(model_dir) else "config.json")).read_text(
        encoding="utf-8"))
    stored = config.get("decision_threshold")
    if not stored:
        return None
    label2id = config.get("label2id") or {label: i for i, label in enumerate(config["labels"])}
    return int(label2id[stored["label"]]), float(stored["cutoff"])


def predict(model_dir: Path, split: datasets.Dataset, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and true label ids, applying the decision threshold the model carries (if any)."""
    probabilities, references = predict_probabilities(model_dir, split, batch_size)
    return labels_at(probabilities, stored_cutoff(model_dir)), references


def compute_metrics(
    names: list[str], predictions: np.ndarray, references: np.ndarray, average: str, num_labels: int,
    trust_remote_code: bool = False,
) -> dict[str, float]:
    """Each named metric on the predictions; precision/recall/f1 use `average`; metrics that are not shipped only
    with `trust_remote_code`."""
    if average == "binary" and num_labels != 2:
        raise ConfigError(f"evaluate.average: 'binary' needs 2 labels, the data has {num_labels}; use macro")
    metrics: dict[str, float] = {}
    for name in names:
        kwargs: dict[str, Any] = {"average": average} if name in AVERAGED else {}
        if name in SHIPPED_METRICS:
            result = compute_shipped(name, predictions, references, **kwargs)
        else:
            result = load_metric(name, trust_remote_code).compute(predictions=predictions, references=references, **kwargs)
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


def score(
    name: str, names: list[str], predictions: np.ndarray, references: np.ndarray, average: str, labels: list[str],
    trust_remote_code: bool = False,
) -> Scores:
    """The declared metrics plus macro F1, per-class precision/recall/f1 with support, and the confusion matrix."""
    from sklearn.metrics import confusion_matrix, f1_score

    ids = list(range(len(labels)))
    metrics = compute_metrics(names, predictions, references, average, len(labels), trust_remote_code)
    # over the classes present (in truth or prediction), as the averaged metrics are: a slice may hold one class
    metrics[MACRO_F1] = float(f1_score(references, predictions, average="macro", zero_division=0))
    counts = np.bincount(np.asarray(references, dtype=int), minlength=len(labels))
    return Scores(
        name=name,
        num_examples=len(references),
        metrics=metrics,
        per_class=per_class_metrics(predictions, references, labels),
        support={label: int(counts[index]) for index, label in enumerate(labels)},
        confusion=confusion_matrix(references, predictions, labels=ids).tolist(),
    )
