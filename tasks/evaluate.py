"""Stage 5: score the model on the test split with HF `evaluate` and gate the push on thresholds."""

from __future__ import annotations

import datasets
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.logging import get_run_logger

from modelmill.artifacts import stable_hash
from modelmill.caching import STAGE
from modelmill.errors import ConfigError, ThresholdsNotMet
from modelmill.challenge import challenge
from modelmill.manifests import DataManifest, EvaluationReport, MetricCheck, ModelManifest, TokenizedManifest
from modelmill.promotion import comparison_table
from modelmill.scoring import compute_metrics, per_class_metrics, predict
from modelmill.reporting import gate_note, metrics_table
from modelmill.retry import retry_if_transient
from modelmill.spec import EvaluateSpec, PushSpec, Threshold


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
    model: ModelManifest,
    tokens: TokenizedManifest,
    spec: EvaluateSpec,
    pipeline: str,
    data: DataManifest | None = None,
    push: PushSpec | None = None,
) -> EvaluationReport:
    """Score the model on the test split; below a threshold the flow fails and nothing is pushed. With
    `evaluate.promote`, the published model is scored on the same split and the report says who stays."""
    test = datasets.load_from_disk(str(tokens.path))["test"]
    predictions, references = predict(model.path, test, spec.batch_size)
    metrics = compute_metrics(spec.metrics, predictions, references, spec.average, len(model.labels))
    report = EvaluationReport(
        key=stable_hash("evaluate", model.key, spec, push),
        metrics=metrics,
        checks=check_thresholds(metrics, spec.thresholds),
        num_examples=len(references),
        per_class=per_class_metrics(predictions, references, model.labels),
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
    if spec.promote is None or push is None or data is None:
        return report
    challenger = {**metrics, **report.per_class}
    guards = [guard.name for guard in spec.promote.guards if guard.name not in challenger]
    if guards:
        raise ConfigError(f"evaluate.promote.guards: no metric {guards} (labels are {model.labels})")
    promotion = challenge(spec, push, model.labels, challenger, data, tokens.max_length)
    comparison = comparison_table(promotion)
    create_markdown_artifact(markdown=f"## Champion vs challenger\n\n{comparison}",
                             description=f"Promotion decision of pipeline '{pipeline}'")
    logger.info("Champion vs challenger:\n%s", comparison)
    return report.model_copy(update={"promotion": promotion})
