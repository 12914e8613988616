"""Markdown tables of an evaluation, shared by the terminal summary, the Prefect artifact and the model card."""

from __future__ import annotations

from collections.abc import Mapping

from modelmill.config import MACRO_F1, PER_CLASS_METRICS
from modelmill.evaluation.gates import baseline_scope, is_baseline_gate, is_set_gate, is_test_gate, slice_scope
from modelmill.manifests import RETENTION_SCOPE, EvaluationReport, MetricCheck, Scores
from modelmill.observe.text_cells import shorten


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _status(check: MetricCheck | None) -> str:
    return "-" if check is None else ("pass" if check.passed else "FAIL")


def _overall(checks: list[MetricCheck]) -> str:
    """'-' without checks, else pass only when every check passed."""
    return "-" if not checks else ("pass" if all(check.passed for check in checks) else "FAIL")


def _escaped(text: object) -> str:
    """A value that may hold '|' or newlines, safe in a markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def per_class_table(report: EvaluationReport) -> str:
    """Precision, recall, F1 and support of every class, with the class thresholds on the test split."""
    checks = {check.metric: check for check in report.checks if is_test_gate(check)}
    lines = ["| class | precision | recall | f1 | support | threshold | status |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for label in report.labels:
        gated = [checks[f"{m}[{label}]"] for m in PER_CLASS_METRICS if f"{m}[{label}]" in checks]
        bounds = "; ".join(f"{check.metric.split('[')[0]} {check.bounds}" for check in gated) or "-"
        values = " | ".join(_cell(report.per_class.get(f"{m}[{label}]")) for m in PER_CLASS_METRICS)
        support = report.support.get(label, 0)
        lines.append(f"| {_escaped(label)} | {values} | {support} | {bounds} | {_overall(gated)} |")
    return "\n".join(lines)


def confusion_table(labels: list[str], confusion: list[list[int]]) -> str:
    """Counts: one row per true label, one column per predicted label."""
    lines = ["| true \\ predicted | " + " | ".join(labels) + " |", "| --- |" + " --- |" * len(labels)]
    lines += [f"| {label} | " + " | ".join(map(str, row)) + " |" for label, row in zip(labels, confusion)]
    return "\n".join(lines)


def baselines_table(report: EvaluationReport) -> str:
    """The model beside each baseline on the test split, with the baseline gates."""
    gates = {check.scope: check for check in report.checks if is_baseline_gate(check)}
    names = ["accuracy", MACRO_F1] if MACRO_F1 in report.metrics else list(report.metrics)
    lines = ["| model | " + " | ".join(names) + " | required |", "| --- |" + " --- |" * (len(names) + 1)]
    lines.append("| **this model** | " + " | ".join(_cell(report.metrics.get(n)) for n in names) + " | |")
    for baseline in report.baselines:
        gate = gates.get(baseline_scope(baseline.name))
        required = "not required" if gate is None else f"model must beat it: {_status(gate)}"
        values = " | ".join(_cell(baseline.scores.metrics.get(n)) for n in names)
        lines.append(f"| {baseline.name}: {baseline.description} | {values} | {required} |")
    return "\n".join(lines)


def scores_table(rows: list[Scores], names: list[str]) -> str:
    """One row per scored set (split, extra set) with its size and metrics."""
    lines = ["| set | examples | " + " | ".join(names) + " |", "| --- | --- |" + " --- |" * len(names)]
    for row in rows:
        values = " | ".join(_cell(row.metrics.get(n)) for n in names)
        lines.append(f"| {row.name} | {row.num_examples} | {values} |")
    return "\n".join(lines)


def slices_table(report: EvaluationReport, names: list[str]) -> str:
    """Metrics per slice, with the slice minimums that gate it."""
    checks: dict[str, list[MetricCheck]] = {}
    for check in report.checks:
        checks.setdefault(check.scope, []).append(check)
    lines = ["| slice | examples | " + " | ".join(names) + " | minimum | status |",
             "| --- | --- |" + " --- |" * (len(names) + 2)]
    for piece in report.slices:
        gated = checks.get(slice_scope(piece), [])
        bounds = "; ".join(f"{c.metric} {c.bounds}" for c in gated) or ("-" if piece.gated else "too few to gate")
        values = " | ".join(_cell(piece.metrics.get(n)) for n in names)
        where = _escaped(f"{piece.slicing} = {piece.value}")
        lines.append(f"| {where} | {piece.num_examples} | {values} | {bounds} | {_overall(gated)} |")
    return "\n".join(lines)


def mistakes_table(report: EvaluationReport) -> str:
    """The most confident test mistakes (or, of a generative model, the answers furthest from their reference),
    texts cut to a readable length."""
    header = ("| row | text | label | predicted | probability |" if report.labels
              else "| row | prompt | reference | answer | token F1 |")
    lines = [header, "| --- | --- | --- | --- | --- |"]
    for mistake in report.mistakes:
        text, label, predicted = (_escaped(shorten(value)) for value in (mistake.text, mistake.label, mistake.predicted))
        lines.append(f"| {mistake.row} | {text} | {label} | {predicted} | {mistake.probability:.3f} |")
    return "\n".join(lines)


def gates_table(checks: list[MetricCheck]) -> str:
    """Every gate: where it was measured, the value, what was required, pass/FAIL."""
    lines = ["| where | metric | value | required | status |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {c.scope} | {c.metric} | {c.value:.4f} | {c.bounds} | {_status(c)} |" for c in checks]
    return "\n".join(lines)


def decision_line(report: EvaluationReport) -> str:
    """Which probability cut-off the model uses, and why."""
    decision = report.decision
    if decision is None:
        return ""
    reached = "reached" if decision.reached else "NOT reached (best possible)"
    return (
        f"Decision threshold: predict **{decision.label}** when its probability is >= {decision.cutoff:.4f} "
        f"(picked on validation for {decision.rule}: {decision.validation_value:.4f}, {reached}; applied to every "
        "score below and stored in config.json as `decision_threshold`)."
    )


def evaluation_sections(
    report: EvaluationReport, images: Mapping[str, str] | None = None, level: str = "###", examples: bool = True
) -> str:
    """Per class, confusion matrix, baselines, fit, extra sets, slices, warnings and (with `examples`) the most
    confident test mistakes; `images` maps a figure's title to its URL (a data URI, or a path in the Hub repo)."""
    names = [n for n in report.metrics if n != MACRO_F1] + [MACRO_F1]
    parts = []
    if line := decision_line(report):
        parts += [line, ""]
    if report.labels:
        parts += [f"{level} Per class", "", per_class_table(report), ""]
    if report.confusion:
        parts += [f"{level} Confusion matrix (rows: true, columns: predicted)", "",
                  confusion_table(report.labels, report.confusion), ""]
    if report.baselines:
        parts += [f"{level} Baselines (same train and test split)", "", baselines_table(report), ""]
    if report.fit:
        parts += [f"{level} Train, validation and test side by side", "", scores_table(report.fit, names), ""]
    if report.unseen is not None and report.fit:
        seen = report.fit[-1].num_examples - report.unseen.num_examples
        parts += [f"{level} Test rows that also occur in train", "",
                  f"{seen} test text(s) occur in train (case, spaces and punctuation folded): the model may have "
                  "memorised them. The test metrics with and without them:", "",
                  scores_table([report.fit[-1], report.unseen], names), ""]
    if report.sets:
        parts += [f"{level} Extra evaluation sets", "", scores_table(report.sets, names), ""]
    if report.slices:
        parts += [f"{level} Slices of the test split", "", slices_table(report, names), ""]
    if report.retention:
        kept = [check for check in report.checks if check.scope == RETENTION_SCOPE]
        parts += [f"{level} Retention of general text (masked-LM loss before and after adaptation)", "",
                  scores_table(report.retention, list(report.retention[0].metrics)), "",
                  *([gates_table(kept), ""] if kept else [])]
    if report.alignment:
        parts += [f"{level} Answers after alignment (the SFT pipeline's test set, its gates)", "",
                  scores_table(report.alignment, list(report.alignment[0].metrics)), ""]
    if report.adaptation:
        parts += [f"{level} Domain adaptation (the same fine-tune from the unadapted and the adapted model)", "",
                  scores_table(report.adaptation, names), ""]
    set_gates = [c for c in report.checks if is_set_gate(c)]
    if set_gates:
        parts += [f"{level} Gates of the extra sets", "", gates_table(set_gates), ""]
    if examples and report.mistakes:
        title = "Most confident test mistakes" if report.labels else "Worst generations (lowest token F1)"
        parts += [f"{level} {title}", "", mistakes_table(report), ""]
    parts += [f"**Warning:** {warning}" for warning in report.warnings]
    for title, url in (images or {}).items():
        parts += ["", f"![{title}]({url})"]
    return "\n".join(parts).strip()
