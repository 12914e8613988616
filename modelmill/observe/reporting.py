"""Human-readable tables and summaries of a run."""

from __future__ import annotations

from pathlib import Path

from modelmill.evaluation.gates import is_baseline_gate, is_test_gate
from modelmill.evaluation.tables import evaluation_sections
from modelmill.hub.promotion import comparison_table
from modelmill.manifests import EvaluationReport, PushResult, RunSummary, StageCost, price_of
from modelmill.search.report import search_table

UNGATED = (
    "Warning: no thresholds are declared (evaluate.thresholds, class_thresholds, sets, slices): nothing but the "
    "baseline gate checked this model before its push."
)


def gate_note(report: EvaluationReport) -> list[str]:
    """A warning line when no declared threshold checked the metrics (the baseline gate is not declared)."""
    declared = [check for check in report.checks if not is_baseline_gate(check)]
    return [] if declared else [UNGATED]


def metrics_table(report: EvaluationReport) -> str:
    """Markdown table of every test metric, its threshold and whether it passed."""
    checks = {check.metric: check for check in report.checks if is_test_gate(check)}
    rows = ["| metric | value | threshold | status |", "| --- | --- | --- | --- |"]
    for name, value in report.metrics.items():
        check = checks.get(name)
        bounds = check.bounds if check else "-"
        status = "-" if check is None else ("pass" if check.passed else "FAIL")
        rows.append(f"| {name} | {value:.4f} | {bounds} | {status} |")
    return "\n".join(rows)


def promotion_lines(report: EvaluationReport) -> list[str]:
    """The champion comparison, when there was one."""
    return [] if report.promotion is None else ["", comparison_table(report.promotion)]


def stages_table(stages: dict[str, str]) -> str:
    """Markdown table of each stage and how it ended (Completed, Cached, Failed)."""
    return "\n".join(["| stage | state |", "| --- | --- |", *(f"| {name} | {state} |" for name, state in stages.items())])


def cost_line(cost: StageCost, price: float | None) -> str:
    """'12.3 s wall, 20.1 CPU-s, 0 GPU-s, peak 812 MiB (0.0041 at 1.2 per device-hour)'."""
    priced = f" ({price_of([cost], price):.4f} at {price:g} per device-hour)" if price else ""
    return (f"{cost.wall_seconds:.1f} s wall, {cost.cpu_seconds:.1f} CPU-s, {cost.gpu_seconds:.1f} GPU-s, peak "
            f"{cost.peak_memory_mb:.0f} MiB{priced}")


def costs_table(costs: dict[str, StageCost], price: float | None) -> str:
    """Markdown table of what each stage's work cost (cached stages cost nothing and are left out), with a total."""
    if not costs:
        return "Cost: nothing ran (every stage cached)."
    total = StageCost()
    for cost in costs.values():
        total = total.plus(cost)
    priced = price is not None
    rows = [f"| {name} | {c.wall_seconds:.1f} | {c.cpu_seconds:.1f} | {c.gpu_seconds:.1f} | {c.peak_memory_mb:.0f} |"
            + (f" {price_of([c], price):.4f} |" if priced else "") for name, c in [*costs.items(), ("total", total)]]
    head = "| stage | wall s | CPU s | GPU s | peak MiB |" + (" cost |" if priced else "")
    return "\n".join([head, "| --- | --- | --- | --- | --- |" + (" --- |" if priced else ""), *rows])


def location(path: Path) -> str:
    """Where an output is, for people: a local path, or its URL under a remote home."""
    from modelmill.storage.home import current_home

    return str(path) if path.is_absolute() else current_home().url(path)


def push_outcome(push: PushResult | None) -> str:
    """One line: what the push did, or where the dry run left its files."""
    if push is None:
        return "not promoted: nothing was pushed, the published model stays"
    if push.dry_run:
        return f"dry run: the {len(push.files)} files for {push.repo_id} are in {location(push.folder)}"
    return push.outcome


def run_summary(summary: RunSummary) -> str:
    """What a finished run produced: metrics against thresholds, where the model is, what was pushed."""
    cached = [name for name, state in summary.stages.items() if state == "Cached"]
    outcome = "succeeded" if summary.promoted else "ran; its model was NOT PROMOTED"
    run = f"run {summary.run_name}" if summary.run_name else "every stage cached: read from the cache, nothing ran"
    return "\n".join(
        [
            f"Pipeline '{summary.pipeline}' {outcome} ({run}, spec {summary.spec_hash}).",
            f"Cached stages: {', '.join(cached)}" if cached else "No stage was cached.",
            metrics_table(summary.evaluation),
            *gate_note(summary.evaluation),
            "",
            evaluation_sections(summary.evaluation),
            *promotion_lines(summary.evaluation),
            f"Model: {location(summary.model_path)}",
            *([f"Trained on: {summary.training}"] if summary.training else []),
            costs_table(summary.costs, summary.price_per_device_hour),
            *([f"Chat template: sha256 {summary.chat_template} (the saved tokenizer carries it)"]
              if summary.chat_template else []),
            *(["", search_table(summary.search), ""] if summary.search else []),
            f"Push:  {push_outcome(summary.push)}",
        ]
    )


def summary_markdown(
    title: str, stages: dict[str, str], summary: RunSummary | None = None, error: str | None = None
) -> str:
    """The run summary artifact: stage states, then metrics, model and push, or the error that stopped it."""
    parts = [f"## {title}", "", stages_table(stages) if stages else "No stage ran."]
    if summary is not None:
        parts += ["", metrics_table(summary.evaluation), *gate_note(summary.evaluation),
                  "", evaluation_sections(summary.evaluation), *promotion_lines(summary.evaluation),
                  "", f"**Model:** `{location(summary.model_path)}`",
                  "", costs_table(summary.costs, summary.price_per_device_hour),
                  *(["", search_table(summary.search)] if summary.search else []),
                  "", f"**Push:** {push_outcome(summary.push)}"]
    if error:
        parts += ["", "**Stopped by:**", "", "```", error, "```"]
    return "\n".join(parts)
