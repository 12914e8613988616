"""Stage 2: check every split against the pipeline's Great Expectations rules (inline and rule files)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.logging import get_run_logger

from modelmill.checks.expectations import build_expectation
from modelmill.checks.overlap import REMEDY
from modelmill.config import ExpectationRule, ValidationSpec
from modelmill.manifests import DataManifest, RuleResult, ValidationReport
from modelmill.observe.data_docs import HEADERS, PAGE, by_split, data_docs_html, rule_cells
from modelmill.observe.quiet import quiet_gx
from modelmill.observe.text_cells import shorten
from modelmill.observe.timing import timed
from modelmill.runtime.errors import DataValidationFailed
from modelmill.runtime.retry import retry_if_transient
from modelmill.storage.artifacts import atomic_dir, new_output_dir, stable_hash
from modelmill.storage.caching import STAGE
from modelmill.storage.home import local_copy
from modelmill.storage.settings import get_settings
from modelmill.task_types import task_type

if TYPE_CHECKING:
    import datasets
    import pandas as pd

DOCS_SITE = "modelmill"


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


def arrow_frame(part: datasets.Dataset) -> pd.DataFrame:
    """A split as the DataFrame GX validates, backed by Arrow memory: no Python object per text."""
    import pandas as pd

    return part.with_format("arrow")[:].to_pandas(types_mapper=pd.ArrowDtype)


def gx_context(docs_dir: Path | None) -> Any:
    """An ephemeral GX context, quiet, with a Data Docs site in `docs_dir` when given."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    quiet_gx()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs_dir is not None:
        context.add_data_docs_site(site_name=DOCS_SITE, site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
    return context


def run_rules(
    dataset: datasets.DatasetDict, spec: ValidationSpec, data: DataManifest | None = None,
    docs_dir: Path | None = None,
) -> ValidationReport:
    """Run every rule on the splits it names (default: `spec.splits`) through a GX checkpoint per split (so the
    results are stored, and rendered as Data Docs in `docs_dir` when given, once for all splits: a build renders
    every stored result again); with `data`, the built-in checks too."""
    import great_expectations as gx

    rules = spec.all_rules()
    if data is not None:
        rules += task_type(data.task).rules(spec, data, dataset["train"])
    context = gx_context(docs_dir)
    source = context.data_sources.add_pandas("modelmill")
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": max(spec.sample_rows, 1)}
    results: list[RuleResult] = []
    for split in spec.splits if rules else []:
        chosen = [(where, rule) for where, rule in rules if split in (rule.splits or spec.splits)]
        if not chosen:
            continue
        suite = context.suites.add(gx.ExpectationSuite(
            name=split, expectations=[build_expectation(rule.expectation, rule.kwargs) for _, rule in chosen]))
        by_id = {expectation.id: pair for expectation, pair in zip(suite.expectations, chosen)}
        definition = context.validation_definitions.add(gx.ValidationDefinition(
            name=split, suite=suite,
            data=source.add_dataframe_asset(split).add_batch_definition_whole_dataframe(split)))
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=f"modelmill-{split}", validation_definitions=[definition], result_format=result_format))
        frame = arrow_frame(dataset[split])
        run = checkpoint.run(batch_parameters={"dataframe": frame})
        outcomes = {r.expectation_config.id: r for suite_run in run.run_results.values() for r in suite_run.results}
        # GX reorders results: match each back to its rule
        results += [_result(split, *by_id[key], outcomes[key], frame, spec.sample_rows) for key in by_id]
    if docs_dir is not None and results:
        context.build_data_docs(site_names=[DOCS_SITE])
    if data is not None:
        results += task_type(data.task).checks(spec, data, dataset)
    index = docs_dir / "index.html" if docs_dir is not None and (docs_dir / "index.html").is_file() else None
    return ValidationReport(checked=len(results), results=results, data_docs=index)


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


def describe_failures(report: ValidationReport, heading: str = "Data validation failed") -> str:
    """A readable summary of the failed rules (critical first, then warnings) under `heading`."""
    lines = [f"{heading}: {report.summary()}"]
    for result in report.failures + report.warnings:
        lines += describe_result(result)
    if any(result.expectation == "modelmill.overlap" for result in report.failures):
        lines.append(f"Overlap: {REMEDY}.")
    if report.data_docs is not None:
        lines.append(f"Data Docs: {report.data_docs}")
    return "\n".join(lines)


def failed_rules(report: ValidationReport) -> str:
    """The failed critical rules on one line: '2 critical rule(s) failed: [test] expect_x(...); ...'."""
    shown = [f"[{result.split}] {result.rule}" for result in report.failures]
    more = f"; and {len(shown) - 3} more" if len(shown) > 3 else ""
    return f"{len(shown)} critical data rule(s) failed: {'; '.join(shown[:3])}{more}"


def data_docs_markdown(report: ValidationReport, pipeline: str) -> str:
    """What the Data Docs show, as a Prefect artifact a UI user can open: every rule on every split with its
    result; the HTML pages stay under the home, named by their place there."""
    lines = [f"## Data Docs of pipeline `{pipeline}`", "", report.summary() + ".", ""]
    for split, results in by_split(report).items():
        lines += [f"### {split}", "", "| " + " | ".join(HEADERS) + " |", "| --- " * len(HEADERS) + "|"]
        for result in results:
            cells = rule_cells(result)
            lines.append("| " + " | ".join(str(cell).replace("|", "\\|").replace("\n", " ") for cell in cells) + " |")
        lines.append("")
    if report.data_docs is not None:
        home, docs = get_settings().local_home, report.data_docs
        where = docs if not docs.is_absolute() else docs.relative_to(home) if docs.is_relative_to(home) else docs.name
        lines.append(f"Data Docs: `{where}` under MODELMILL_HOME of the host that ran the validation (one page that "
                     f"opens offline; GX's own pages beside it, `index.html`, need its CDNs).")
    return "\n".join(lines)


def publish_report(report: ValidationReport, pipeline: str) -> None:
    """A Prefect table artifact of every rule on every split, with what was observed."""
    create_table_artifact(
        table=[result.model_dump(mode="json", exclude={"sample", "expectation"}) for result in report.results]
        or [{"result": "no rules declared"}],
        description=f"Data rules of pipeline '{pipeline}': {report.summary()}",
    )


@task(name="validate_data", cache_policy=STAGE, persist_result=True, retry_condition_fn=retry_if_transient)
@timed("validate_data")
def validate_data(data: DataManifest, spec: ValidationSpec, pipeline: str) -> ValidationReport:
    """Run the pipeline's data rules; a critical failure stops the flow before training, warnings are reported.
    GX Data Docs of the run are written under the stage's artifacts and linked from a Prefect artifact."""
    folder = new_output_dir("validation", stable_hash("validate", data, spec))
    with atomic_dir(folder) as scratch:
        import datasets

        report = run_rules(datasets.load_from_disk(str(local_copy(data.path))), spec, data, scratch / "data-docs")
        page = scratch / "data-docs" / PAGE  # opens offline, unlike GX's pages beside it
        page.parent.mkdir(exist_ok=True)
        page.write_text(data_docs_html(report, pipeline), encoding="utf-8")
    report = report.model_copy(update={"data_docs": folder / "data-docs" / PAGE})
    if report.results:
        create_markdown_artifact(markdown=data_docs_markdown(report, pipeline),
                                 description=f"Data Docs of pipeline '{pipeline}': {report.summary()}")
    publish_report(report, pipeline)
    if not report.passed:
        raise DataValidationFailed(describe_failures(report), reason=failed_rules(report))
    logger = get_run_logger()
    if report.warnings:
        logger.warning("%s", describe_failures(report, heading="Data rule warnings"))
    logger.info("Data validation: %s", report.summary())
    return report
