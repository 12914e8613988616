"""Evaluate: local metric modules, averaging, and the threshold gate."""

from __future__ import annotations

import numpy as np
import pytest

from modelmill.runtime.errors import ConfigError
from modelmill.manifests import EvaluationReport
from modelmill.observe.reporting import metrics_table
from modelmill.config import Threshold
from modelmill.evaluation.scoring import compute_metrics
from modelmill.evaluation.gates import check_thresholds

PREDICTIONS = np.array([0, 1, 1, 0, 2, 2])
REFERENCES = np.array([0, 1, 0, 0, 2, 1])


def test_metrics_come_from_the_shipped_modules_with_the_declared_average():
    metrics = compute_metrics(["accuracy", "precision", "recall", "f1"], PREDICTIONS, REFERENCES, "macro", 3)
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["recall"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert set(metrics) == {"accuracy", "precision", "recall", "f1"}


def test_binary_average_needs_two_labels():
    with pytest.raises(ConfigError, match="'binary' needs 2 labels"):
        compute_metrics(["f1"], PREDICTIONS, REFERENCES, "binary", 3)


def test_check_thresholds_reports_observed_against_required():
    checks = check_thresholds(
        {"accuracy": 0.7, "f1": 0.9}, {"accuracy": Threshold(min=0.8), "f1": Threshold(min=0.5, max=0.95)}
    )
    assert [(c.metric, c.passed) for c in checks] == [("accuracy", False), ("f1", True)]
    table = metrics_table(EvaluationReport(key="k", metrics={"accuracy": 0.7, "f1": 0.9}, checks=checks, num_examples=6))
    assert "| accuracy | 0.7000 | >= 0.8 | FAIL |" in table
    assert "| f1 | 0.9000 | >= 0.5 and <= 0.95 | pass |" in table


def test_a_threshold_on_a_metric_that_was_not_computed_is_a_config_error():
    with pytest.raises(ConfigError, match=r"no computed metric named \['rouge'\]"):
        check_thresholds({"accuracy": 1.0}, {"rouge": Threshold(min=0.1)})
