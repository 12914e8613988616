"""Stage 5: score the model on the test split with HF `evaluate` and gate the push on thresholds."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import datasets
import evaluate
import numpy as np
import torch
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.logging import get_run_logger
from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments

from modelmill.artifacts import stable_hash
from modelmill.caching import STAGE
from modelmill.errors import ConfigError, ThresholdsNotMet
from modelmill.manifests import EvaluationReport, MetricCheck, ModelManifest, TokenizedManifest
from modelmill.metrics import load_metric
from modelmill.reporting import gate_note, metrics_table
from modelmill.retry import retry_if_transient
from modelmill.spec import EvaluateSpec, Threshold

AVERAGED = frozenset({"precision", "recall", "f1"})


def predict(model_dir: Path, test: datasets.Dataset, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and true label ids for the tokenized test split."""
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


def check_thresholds(metrics: dict[str, float], thresholds: dict[str, Threshold]) -> list[MetricCheck]:
    """One check per threshold, observed value against the bounds."""
    missing = sorted(set(thresholds) - set(metrics))
    if missing:
        raise ConfigError(f"evaluate.thresholds: no computed metric named {missing}; computed {sorted(metrics)}")
    return [
        MetricCheck(metric=name, value=metrics[name], min=bound.min, max=bound.max)
        for name, bound in thresholds.items()
    ]


@task(name="evaluate", cache_policy=STAGE, persist_result=True, retry_condition_fn=retry_if_transient)
def evaluate_model(
    model: ModelManifest, tokens: TokenizedManifest, spec: EvaluateSpec, pipeline: str
) -> EvaluationReport:
    """Score the model on the test split; below a threshold the flow fails and nothing is pushed."""
    test = datasets.load_from_disk(str(tokens.path))["test"]
    predictions, references = predict(model.path, test, spec.batch_size)
    metrics = compute_metrics(spec.metrics, predictions, references, spec.average, len(model.labels))
    report = EvaluationReport(
        key=stable_hash("evaluate", model.key, spec),
        metrics=metrics,
        checks=check_thresholds(metrics, spec.thresholds),
        num_examples=len(references),
    )
    table = metrics_table(report)
    create_markdown_artifact(
        markdown=f"## Test metrics ({report.num_examples} examples)\n\n{table}",
        description=f"Evaluation of pipeline '{pipeline}'",
    )
    if report.failures:
        raise ThresholdsNotMet(f"Model is below its thresholds; nothing will be pushed.\n{table}")
    logger = get_run_logger()
    logger.info("Test metrics (%d examples):\n%s", report.num_examples, table)
    for note in gate_note(report):
        logger.warning(note)
    return report
