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


def test_a_summarizer_that_loses_to_its_untuned_model_is_refused_with_both_scores_and_the_remedies():
    from modelmill.evaluation.gates import check_untuned
    from modelmill.manifests import BaselineScores, Scores
    from tasks.evaluate import failure_message

    untuned = BaselineScores(name="untuned", description="t5-small before fine-tuning",
                             scores=Scores(name="test", num_examples=8, metrics={"rouge1": 0.31, "rougeL": 0.2}))
    metrics = {"rouge1": 0.25, "rougeL": 0.22}
    gate = check_untuned(metrics, untuned, "rouge1")
    message = failure_message(EvaluationReport(key="k", metrics=metrics, checks=[gate], num_examples=8,
                                               baselines=[untuned]))
    assert "| untuned: t5-small before fine-tuning | 0.3100 | 0.2000 | model must beat it: FAIL |" in message
    assert "Lost to the untuned model: rouge1 0.2500 vs 0.3100 for t5-small before fine-tuning (0.0600 behind)" \
        in message
