"""Stage 2: check every split against the pipeline's Great Expectations rules (inline and rule files)."""

from __future__ import annotations

import math
from typing import Any

import datasets
import pandas as pd
from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.logging import get_run_logger

from modelmill.caching import STAGE
from modelmill.checks.builtin import builtin_rules, plain_checks
from modelmill.errors import DataValidationFailed
from modelmill.expectations import build_expectation
from modelmill.manifests import DataManifest, RuleResult, ValidationReport
from modelmill.reporting import shorten
from modelmill.retry import retry_if_transient
from modelmill.spec import ExpectationRule, ValidationSpec



def _plain(value: Any) -> Any:
    """JSON-friendly scalar: NaN becomes None, numpy scalars become Python ones, long texts are cut."""
    if hasattr(value, "item"):
        value = value.item()
    value = shorten(value)
    return None if isinstance(value, float) and math.isnan(value) else value


def gx_error(info: dict[str, Any]) -> str | None:
    """The reason GX could not evaluate a rule: `exception_info` is flat, or keyed by metric."""
    for entry in [info, *[value for value in info.values() if isinstance(value, dict)]]:
        if entry.get("raised_exception"):
            return str(entry.get("exception_message") or "GX could not evaluate this rule").splitlines()[0]
    return None


def _result(split: str, source: str, rule: ExpectationRule, result: Any, frame: pd.DataFrame, rows: int) -> RuleResult:
    details = result.result or {}
    indexes = details.get("partial_unexpected_index_list") or []
    sample = [
        {"row": int(index) + 1, **{column: _plain(value) for column, value in frame.loc[index].items()}}
        for index in indexes[:rows]
    ]
    error = gx_error(getattr(result, "exception_info", None) or {})
    return RuleResult(
        split=split, expectation=rule.expectation, rule=rule.describe(), source=source, severity=rule.severity,
        column=rule.kwargs.get("column"), success=bool(result.success) and error is None,
        observed=_plain(details.get("observed_value")), unexpected_count=details.get("unexpected_count"),
        unexpected_percent=_plain(details.get("unexpected_percent")), sample=sample, error=error,
    )


def run_rules(
    dataset: datasets.DatasetDict, spec: ValidationSpec, data: DataManifest | None = None
) -> ValidationReport:
    """Run every rule on the splits it names (default: `spec.splits`) through the GX Core API; with `data`, the
    built-in checks too."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    rules = spec.all_rules()
    if data is not None:
        rules += builtin_rules(spec.checks, data, dataset["train"])
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("modelmill")
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": max(spec.sample_rows, 1)}
    results: list[RuleResult] = []
    for split in spec.splits if rules else []:
        chosen = [(where, rule) for where, rule in rules if split in (rule.splits or spec.splits)]
        if not chosen:
            continue
        frame = dataset[split].to_pandas()
        batch = (
            source.add_dataframe_asset(split)
            .add_batch_definition_whole_dataframe(split)
            .get_batch(batch_parameters={"dataframe": frame})
        )
        for where, rule in chosen:  # one at a time: GX does not keep a suite's order in its results
            outcome = batch.validate(build_expectation(rule.expectation, rule.kwargs), result_format=result_format)
            results.append(_result(split, where, rule, outcome, frame, spec.sample_rows))
    if data is not None:
        results += plain_checks(spec.checks, data, dataset, spec.splits, spec.sample_rows)
    return ValidationReport(checked=len(results), results=results)


def describe_result(result: RuleResult) -> list[str]:
    """One line for the rule (split, severity, arguments, counts), then its offending rows."""
    line = f"[{result.split}] {result.rule} ({result.severity}, {result.source})"
    if result.error:
        return [f"  - {line}: could not be evaluated: {result.error}"]
    if result.unexpected_count is not None:
        line += f": {result.unexpected_count} unexpected rows ({result.unexpected_percent or 0:.1f}%)"
    if result.observed is not None:
        line += f": observed {result.observed!r}"
    rows = [{key: value for key, value in row.items() if key != "row"} | {"#": row.get("row")} for row in result.sample]
    return [f"  - {line}"] + [f"      row {row.pop('#')}: {row}" for row in rows]


def describe_failures(report: ValidationReport) -> str:
    """A readable summary of the failed rules (critical first, then warnings)."""
    lines = [f"Data validation failed: {report.summary()}"]
    for result in report.failures + report.warnings:
        lines += describe_result(result)
    return "\n".join(lines)


def publish_report(report: ValidationReport, pipeline: str) -> None:
    """A Prefect table artifact of every rule on every split, with what was observed."""
    create_table_artifact(
        table=[result.model_dump(mode="json", exclude={"sample", "expectation"}) for result in report.results]
        or [{"result": "no rules declared"}],
        description=f"Data rules of pipeline '{pipeline}': {report.summary()}",
    )


@task(name="validate_data", cache_policy=STAGE, persist_result=True, retry_condition_fn=retry_if_transient)
def validate_data(data: DataManifest, spec: ValidationSpec, pipeline: str) -> ValidationReport:
    """Run the pipeline's data rules; a critical failure stops the flow before training, warnings are reported."""
    report = run_rules(datasets.load_from_disk(str(data.path)), spec, data)
    publish_report(report, pipeline)
    if not report.passed:
        raise DataValidationFailed(describe_failures(report))
    logger = get_run_logger()
    if report.warnings:
        logger.warning("%s", describe_failures(report).replace("Data validation failed", "Data rule warnings", 1))
    logger.info("Data validation: %s", report.summary())
    return report
