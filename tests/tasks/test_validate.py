"""Validation: YAML rules run through GX on every split; failures read well and stop the flow."""

from __future__ import annotations

import re

import pytest

from modelmill.config import DataSpec, ValidationSpec
from modelmill.runtime.errors import DataValidationFailed
from tasks.load_data import load_data, read_data
from tasks.validate import describe_failures, run_rules, validate_data
from tests.conftest import review_rows, write_csv

RULES = ValidationSpec(
    expectations=[
        {"expect_column_values_to_not_be_null": {"column": "text"}},
        {"expect_column_values_to_be_in_set": {"column": "label", "value_set": ["negative", "positive"]}},
        {"expect_table_row_count_to_be_between": {"min_value": 5}},
    ]
)


def test_clean_data_passes_every_rule_on_every_split(review_files):
    dataset, *_ = read_data(DataSpec(files=review_files))
    report = run_rules(dataset, RULES)
    assert report.passed
    assert report.checked == 9, "3 rules x 3 splits"


def test_a_failed_rule_reports_split_rule_column_and_offending_rows(review_files):
    rows = review_rows(2, 12)
    rows[4]["text"] = "ok"
    write_csv(review_files["validation"], rows)
    spec = ValidationSpec(expectations=[{"expect_column_value_lengths_to_be_between": {"column": "text", "min_value": 3}}])
    dataset, *_ = read_data(DataSpec(files=review_files))
    report = run_rules(dataset, spec)
    assert [(f.split, f.expectation, f.column, f.unexpected_count) for f in report.failures] == [
        ("validation", "expect_column_value_lengths_to_be_between", "text", 1)
    ]
    summary = describe_failures(report)
    assert ("[validation] expect_column_value_lengths_to_be_between(column=text, min_value=3) (critical, "
            "validation.expectations[0]): 1 unexpected rows (8.3%)") in summary
    assert "row 5: {'text': 'ok', 'label': 'positive'}" in summary, "the offending row, with its number"


def test_table_level_rule_reports_the_observed_value(review_files):
    spec = ValidationSpec(expectations=[{"expect_table_row_count_to_be_between": {"min_value": 20}}], splits=["test"])
    dataset, *_ = read_data(DataSpec(files=review_files))
    report = run_rules(dataset, spec)
    assert report.failures[0].observed == 12
    assert "observed 12" in describe_failures(report)


def test_validate_task_raises_and_does_not_retry(prefect, review_files, monkeypatch):
    # given data with a label that the rules do not allow, and a task with retries
    rows = review_rows(1, 48)
    rows[0]["label"] = "maybe"
    write_csv(review_files["train"], rows)
    data = load_data(DataSpec(files=review_files, labels=["negative", "positive", "maybe"]))
    calls = []
    monkeypatch.setattr("tasks.validate.run_rules", lambda *a: calls.append(1) or run_rules(*a))
    # when it is validated, then it fails with the rule named, after a single attempt
    with pytest.raises(DataValidationFailed, match=r"\[train\] expect_column_values_to_be_in_set\(column=label, value_set="):
        validate_data.with_options(retries=3, retry_delay_seconds=0)(data, RULES, "tiny")
    assert calls == [1], "a validation failure is final: no retry"


def test_warnings_are_reported_without_stopping_and_rules_can_be_limited_to_splits(prefect, review_files, tmp_path):
    # given a rule file: a warning on short texts, and a row-count minimum for train only
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "suite: reviews\nrules:\n"
        "  - expect_column_value_lengths_to_be_between: {column: text, min_value: 30}\n"
        "    severity: warning\n    meta: {owner: data-team}\n"
        "  - expect_table_row_count_to_be_between: {min_value: 40}\n    splits: [train]\n"
    )
    from modelmill.config import PipelineSpec

    spec = PipelineSpec.model_validate(
        {"data": {"files": review_files}, "validation": {"suites": [str(rules)]}, "model": {"name_or_path": "m"},
         "push": {"repo_id": "a/b"}}
    ).validation
    data = load_data(DataSpec(files=review_files))
    # when validated, then the run goes on, and the report has every rule with what was observed
    report = validate_data(data, spec, "tiny")
    assert report.passed and report.warnings
    assert [(r.split, r.source) for r in report.results if r.expectation == "expect_table_row_count_to_be_between"] \
        == [("train", "rules.yaml: rules[1]")]
    from_file = [r for r in report.results if r.source.startswith("rules.yaml")]
    assert [(r.split, r.success) for r in from_file] == [
        ("train", False), ("train", True), ("validation", False), ("test", False)
    ]
    assert report.summary().endswith("3 warning(s), 0 failed")


def test_a_rule_gx_cannot_evaluate_says_why(review_files):
    spec = ValidationSpec(expectations=[{"expect_column_values_to_not_be_null": {"column": "source"}}], splits=["test"])
    dataset, *_ = read_data(DataSpec(files=review_files))
    (result,) = run_rules(dataset, spec).failures
    assert result.error and "source" in result.error
    assert "could not be evaluated" in describe_failures(run_rules(dataset, spec))


def test_each_validation_run_writes_gx_data_docs_under_its_artifacts(prefect, review_files):
    from modelmill.storage.settings import get_settings

    data = load_data(DataSpec(files=review_files))
    report = validate_data(data, RULES, "tiny")
    docs = report.data_docs
    assert docs is not None and docs.name == "report.html" and docs.is_file()
    assert get_settings().artifacts in docs.parents
    # the page it links opens offline: it fetches nothing (GX's own pages beside it load their assets from CDNs)
    page = docs.read_text()
    assert "<table>" in page and "<h2>test</h2>" in page
    assert "expect_column_values_to_be_in_set(column=label, value_set=[&#x27;negative&#x27;, &#x27;positive&#x27;])" in page
    assert not re.search(r"(src|href)=\S*//", page), "nothing to fetch"
    assert (docs.parent / "index.html").is_file(), "GX's Data Docs are still there"
    pages = list(docs.parent.glob("validations/**/*.html"))
    assert len(pages) == 3, "one validation page per split"
    assert "values must belong to this set" in "".join(p.read_text() for p in pages), "the in_set rule is rendered"
    # and what they show is also a Prefect artifact a UI user can open, naming the pages by their place in the home
    from tasks.validate import data_docs_markdown

    markdown = data_docs_markdown(report, "tiny")
    assert "## Data Docs of pipeline `tiny`" in markdown and "### train" in markdown and "### test" in markdown
    assert "| expect_column_values_to_be_in_set(column=label, value_set=['negative', 'positive']) |" in markdown
    assert f"`{docs.relative_to(get_settings().local_home)}` under MODELMILL_HOME" in markdown
    assert str(get_settings().local_home) not in markdown, "no path of the worker's host"
