"""Human-readable tables and summaries of a run."""

from __future__ import annotations

from modelmill.manifests import EvaluationReport, RunSummary


def metrics_table(report: EvaluationReport) -> str:
    """Markdown table of every metric, its threshold and whether it passed."""
    checks = {check.metric: check for check in report.checks}
    rows = ["| metric | value | threshold | status |", "| --- | --- | --- | --- |"]
    for name, value in report.metrics.items():
        check = checks.get(name)
        bounds = check.bounds if check else "-"
        status = "-" if check is None else ("pass" if check.passed else "FAIL")
        rows.append(f"| {name} | {value:.4f} | {bounds} | {status} |")
    return "\n".join(rows)


def run_summary(summary: RunSummary) -> str:
    """What a finished run produced: metrics against thresholds, where the model is, what was pushed."""
    push = summary.push
    if push.dry_run:
        pushed = (
            f"dry run (no HF_TOKEN): the {len(push.files)} files for {push.repo_id} are in {push.folder}"
        )
    else:
        pushed = f"{push.repo_id} at {push.endpoint}: {push.commit_url}"
    return "\n".join(
        [
            f"Pipeline '{summary.pipeline}' succeeded.",
            metrics_table(summary.evaluation),
            f"Model: {summary.model_path}",
            f"Push:  {pushed}",
        ]
    )
