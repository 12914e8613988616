"""The shipped metrics computed directly: the very sklearn calls of the shipped `evaluate` modules beside this
file, without importing `evaluate` (five seconds on this machine). A test checks both give the same figures; a
metric that is not shipped always goes through `evaluate.load`."""

from __future__ import annotations

from typing import Any

import numpy as np


def compute_shipped(name: str, predictions: np.ndarray, references: np.ndarray, **kwargs: Any) -> dict[str, float]:
    """`{name: value}` as `evaluate.load(<shipped module>).compute(predictions, references, **kwargs)` returns it."""
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    if name == "accuracy":
        return {"accuracy": float(accuracy_score(references, predictions))}
    score = {"precision": precision_score, "recall": recall_score, "f1": f1_score}[name]
    # zero_division 0: the value the modules' "warn" gives, without sklearn's UndefinedMetricWarning in a user's
    # terminal (a class never predicted is what the per-class table and the gates report)
    return {name: float(score(references, predictions, average=kwargs.get("average", "binary"), zero_division=0))}
