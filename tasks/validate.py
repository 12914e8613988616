"""Stage 2: check every split against the Great Expectations rules of the pipeline."""

from __future__ import annotations

import math
from typing import Any

import datasets
import pandas as pd
from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.logging import get_run_logger

from modelmill.caching import STAGE
from modelmill.errors import DataValidationFailed
from modelmill.expectations import build_expectation
from modelmill.manifests import DataManifest, RuleFailure, ValidationReport
from modelmill.retry import retry_if_transient
from modelmill.spec import ValidationSpec


def _plain(value: Any) -> Any:
    """JSON-friendly scalar: NaN becomes None, numpy scalars become Python ones."""
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def _failure(split: str, result: Any, frame: pd.DataFrame, sample_rows: int) -> RuleFailure:
    config = result.expectation_config
    details = result.result or {}
    rows = details.get("partial_unexpected_index_list") or []
    sample = [
        {column: _plain(value) for column, value in frame.loc[index].items()} for index in rows[:sample_rows]
    ]
    return RuleFailure(
        split=split,
        expectation=config.type,
        column=config.kwargs.get("column"),
        observed=_plain(details.get("observed_value")),
        unexpected_count=details.get("unexpected_count"),
        unexpected_percent=_plain(details.get("unexpected_percent")),
        sample=sample,
    )


def run_rules(dataset: datasets.DatasetDict, spec: ValidationSpec) -> ValidationReport:
    """Run every rule on every split named in `spec.splits` through the GX Core API."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("modelmill")
    failures: list[RuleFailure] = []
    checked = 0
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": max(spec.sample_rows, 1)}
    for split in spec.splits:
        if not spec.expectations:
            break
        frame = dataset[split].to_pandas()
        suite = gx.ExpectationSuite(
            name=f"modelmill-{split}",
            expectations=[build_expectation(rule.expectation, rule.kwargs) for rule in spec.expectations],
        )
        batch = (
            source.add_dataframe_asset(split)
            .add_batch_definition_whole_dataframe(split)
            .get_batch(batch_parameters={"dataframe": frame})
        )
        results = batch.validate(suite, result_format=result_format).results
        checked += len(results)
        failures += [_failure(split, r, frame, spec.sample_rows) for r in results if not r.success]
    return ValidationReport(checked=checked, failures=failures)


def describe_failures(report: ValidationReport) -> str:
    """A readable summary: rule, column, observed value and a few offending rows per failure."""
    lines = [f"Data validation failed: {len(report.failures)} of {report.checked} rule checks failed"]
    for failure in report.failures:
        what = f"[{failure.split}] {failure.expectation}" + (f"(column={failure.column})" if failure.column else "")
        if failure.unexpected_count is not None:
            what += f": {failure.unexpected_count} unexpected rows ({failure.unexpected_percent or 0:.1f}%)"
        if failure.observed is not None:
            what += f": observed {failure.observed!r}"
        lines.append(f"  - {what}")
        lines += [f"      row {row}" for row in failure.sample]
    return "\n".join(lines)


def publish_report(report: ValidationReport, pipeline: str) -> None:
    """A Prefect table artifact of the failed rules, visible in the UI."""
    create_table_artifact(
        table=[failure.model_dump(mode="json", exclude={"sample"}) for failure in report.failures]
        or [{"result": f"all {report.checked} rule checks passed"}],
        description=f"Great Expectations results for pipeline '{pipeline}'",
    )


@task(name="validate_data", cache_policy=STAGE, persist_result=True, retry_condition_fn=retry_if_transient)
def validate_data(data: DataManifest, spec: ValidationSpec, pipeline: str) -> ValidationReport:
    """Run the pipeline's data rules; any failure stops the flow before training."""
    report = run_rules(datasets.load_from_disk(str(data.path)), spec)
    publish_report(report, pipeline)
    if not report.passed:
        raise DataValidationFailed(describe_failures(report))
    get_run_logger().info("Data validation passed: %d rule checks", report.checked)
    return report
