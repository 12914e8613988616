"""The probability cut-off of a binary model's positive class, picked on validation to reach a target."""

from __future__ import annotations

import numpy as np

from modelmill.config import DecisionThresholdSpec
from modelmill.manifests import DecisionCutoff


def pick_cutoff(spec: DecisionThresholdSpec, probabilities: np.ndarray, is_positive: np.ndarray) -> DecisionCutoff:
    """Among the cut-offs whose `spec.metric` reaches `spec.target`, the one with the most of the other metric
    (precision target: the most recall; recall target: the most precision). Unreachable: the cut-off with the best
    value of `spec.metric`, marked not reached.
    """
    order = np.argsort(-probabilities, kind="stable")
    sorted_probs, hits = probabilities[order], is_positive[order].astype(bool)
    last_of_value = np.r_[sorted_probs[1:] != sorted_probs[:-1], True]  # predict positive for p >= this value
    true_pos = np.cumsum(hits)[last_of_value]
    predicted = (np.arange(len(hits)) + 1)[last_of_value]
    cutoffs = sorted_probs[last_of_value]
    precision = true_pos / predicted
    recall = true_pos / max(int(hits.sum()), 1)
    value, other = (precision, recall) if spec.metric == "precision" else (recall, precision)
    reached = value >= spec.target - 1e-12
    if reached.any():
        candidates = np.flatnonzero(reached)
        index = candidates[np.argmax(other[candidates] + 1e-9 * cutoffs[candidates])]  # ties: the higher cut-off
    else:
        index = int(np.argmax(value))
    return DecisionCutoff(
        label=spec.positive,
        cutoff=float(cutoffs[index]),
        rule=f"{spec.metric}[{spec.positive}] >= {spec.target:g}",
        validation_value=float(value[index]),
        reached=bool(reached.any()),
    )
