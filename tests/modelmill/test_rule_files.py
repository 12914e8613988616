"""Rule files that data teams own: same syntax as inline rules, plus severity, meta and splits; `check` names
the file and the rule at fault."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from modelmill.cli import main
from modelmill.runtime.errors import ConfigError
from modelmill.config.file import load_pipeline

PIPELINE = {"data": {"file": "d.csv"}, "model": {"name_or_path": "m"}, "push": {"repo_id": "a/b"}}


def project(tmp_path: Path, rules: str, **validation) -> Path:
    (tmp_path / "expectations").mkdir()
    (tmp_path / "expectations" / "reviews.yaml").write_text(rules)
    spec = {**PIPELINE, "validation": {"suites": ["expectations/reviews.yaml"], **validation}}
    path = tmp_path / "pipelines.yaml"
    path.write_text(yaml.safe_dump({"pipelines": {"p": spec}}))
    return path


def test_a_rule_file_adds_its_rules_with_severity_meta_and_splits(tmp_path):
    path = project(tmp_path, "suite: reviews\nrules:\n"
                   "  - expect_column_values_to_not_be_null: {column: text}\n    meta: {owner: data-team, why: nulls}\n"
                   "  - expect_table_row_count_to_be_between: {min_value: 100}\n    severity: warning\n"
                   "    splits: [train]\n",
                   expectations=[{"expect_column_values_to_not_be_null": {"column": "label"}}])
    validation = load_pipeline("p", path).validation
    assert [(where, rule.severity, rule.splits) for where, rule in validation.all_rules()] == [
        ("validation.expectations[0]", "critical", None),
        ("reviews.yaml: rules[0]", "critical", None),
        ("reviews.yaml: rules[1]", "warning", ["train"]),
    ]
    assert validation.suites[0].name == "reviews" and validation.all_rules()[1][1].meta["owner"] == "data-team"


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("rules:\n  - expect_column_values_to_not_be_nul: {column: text}\n",
         "reviews.yaml: rules[0]: unknown Great Expectations expectation 'expect_column_values_to_not_be_nul'"),
        ("rules:\n  - expect_column_values_to_not_be_null: {column: text}\n    severity: fatal\n",
         "reviews.yaml: rules[0].severity: Input should be 'critical' or 'warning'"),
        ("rules:\n  - expect_column_values_to_not_be_null: {column: text}\n  - expect_column_values_to_not_be_null: {}\n",
         "reviews.yaml: rules[1]: invalid arguments for 'expect_column_values_to_not_be_null'"),
        ("rules: []\n", "reviews.yaml: rules: List should have at least 1 item"),
    ],
    ids=["typo", "severity", "arguments", "empty"],
)
def test_check_names_the_rule_file_and_the_rule_at_fault(tmp_path, capsys, rules, message):
    path = project(tmp_path, rules)
    with pytest.raises(ConfigError, match=r"pipelines\.p\.validation\.suites\[0\]"):
        load_pipeline("p", path)
    assert main(["check", "-f", str(path)]) == 1
    assert message in capsys.readouterr().err


def test_a_missing_rule_file_is_named(tmp_path):
    path = tmp_path / "pipelines.yaml"
    path.write_text(yaml.safe_dump({"pipelines": {"p": {**PIPELINE, "validation": {"suites": ["gone.yaml"]}}}}))
    with pytest.raises(ConfigError, match=r"rule file .*gone\.yaml not found"):
        load_pipeline("p", path)
