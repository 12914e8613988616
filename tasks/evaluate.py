"""Stage 5: evaluate the model as a reviewer would (per class, baselines, fit, sets, slices) and gate the push on
the declared thresholds."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.logging import get_run_logger

from modelmill.config import EvaluateSpec
from modelmill.evaluation.figures import data_uri, saved_figures
from modelmill.evaluation.gates import accuracy_paradox, baseline_scope, lost_to_baseline, lost_to_untuned
from modelmill.evaluation.tables import evaluation_sections, gates_table
from modelmill.manifests import DataManifest, EvaluationReport, ModelManifest, TokenizedManifest
from modelmill.observe.reporting import gate_note, metrics_table
from modelmill.observe.timing import timed
from modelmill.runtime.errors import ThresholdsNotMet
from modelmill.runtime.retry import retry_if_transient
from modelmill.storage.artifacts import new_output_dir, stable_hash
from modelmill.storage.caching import STAGE
from modelmill.task_types import task_type
from modelmill.task_types.scored import UNTUNED


def failure_message(report: EvaluationReport) -> str:
    """Why the model is refused: the failed gates, and in words the accuracy paradox or the loss to a baseline."""
    lines = ["Model is below its thresholds; nothing will be pushed.", metrics_table(report), "",
             evaluation_sections(report), "", "Failed gates:", "", gates_table(report.failures)]
    lost = {c.scope: c for c in report.failures}
    for baseline in (b for b in report.baselines if baseline_scope(b.name) in lost):
        if baseline.name == UNTUNED:
            explained = lost_to_untuned(lost[baseline_scope(baseline.name)], baseline)
        elif baseline.name == "majority":
            explained = accuracy_paradox(report.fit[-1], baseline, report.labels)
        else:
            explained = lost_to_baseline(report.fit[-1], baseline)
        lines += ["", explained]
    return "\n".join(lines)


def failed_gates(report: EvaluationReport) -> str:
    """The failed gates on one line: 'accuracy 0.5750 (test, needs >= 0.8); macro_f1 ...'."""
    shown = [f"{check.metric} {check.value:.4f} ({check.scope}, needs {check.bounds})" for check in report.failures]
    more = f"; and {len(shown) - 3} more" if len(shown) > 3 else ""
    return f"below {len(shown)} gate(s): {'; '.join(shown[:3])}{more}"


def report_markdown(report: EvaluationReport) -> str:
    """The evaluation artifact: test metrics, then every section, with the figures inline."""
    images = {title: data_uri(path) for title, path in saved_figures(report.figures).items()}
    return "\n\n".join([
        f"## Test metrics ({report.num_examples} examples)", metrics_table(report), *gate_note(report),
        evaluation_sections(report, images),
    ])


@task(
    name="evaluate",
    cache_policy=STAGE,
    persist_result=True,
    retry_condition_fn=retry_if_transient,
)
@timed("evaluate")
def evaluate_model(
    model: ModelManifest,
    tokens: TokenizedManifest,
    spec: EvaluateSpec,
    pipeline: str,
    data: DataManifest,
    gate: bool = True,
) -> EvaluationReport:
    """Score the model; below a gate the flow fails and nothing is pushed (`gate` False: a model scored for
    comparison only, its report returned whatever it scored)."""
    key = stable_hash("evaluate", model.key, spec)  # the extra sets' files by name and content
    report = task_type(data.task).evaluate(model, tokens, data, spec, key, new_output_dir("evaluate", key))
    create_markdown_artifact(markdown=report_markdown(report), description=f"Evaluation of pipeline '{pipeline}'")
    if report.failures and gate:
        raise ThresholdsNotMet(failure_message(report), reason=failed_gates(report))
    logger = get_run_logger()
    logger.info("Test metrics (%d examples):\n%s", report.num_examples, metrics_table(report))
    for note in [*gate_note(report), *report.warnings]:
        logger.warning(note)
    return report
