"""The spec is checked against an index of Great Expectations and transformers (no import of either: `list` and
the spec check answer at once); the index matches the installed libraries, and what only the real objects refuse
is refused before any work, at its YAML path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelmill.cli import main
from modelmill.config.library_index import generate, index, installed_versions, rule_problem
from tests.conftest import pipeline_dict
from tests.patience import patient

ROOT = Path(__file__).parents[2]


def test_the_index_is_that_of_the_installed_libraries():
    fresh = generate()
    assert {name: part["version"] for name, part in index().items()} == installed_versions()
    assert index() == fresh, "run `python -m modelmill.config.library_index` after upgrading GX or transformers"


def test_loading_a_file_imports_none_of_the_heavy_libraries():
    probe = (
        "import sys; from modelmill.config import load_pipelines; load_pipelines('pipelines.yaml'); "
        "print(sorted(m for m in ('great_expectations', 'transformers', 'torch', 'datasets', 'prefect', 'evaluate') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=patient(120))
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


@pytest.mark.parametrize(("name", "kwargs", "reason"), [
    ("expect_column_values_to_not_be_nul", {"column": "text"}, "did you mean 'expect_column_values_to_not_be_null'"),
    ("expect_column_values_to_be_in_set", {"colum": "label", "value_set": ["a"]},
     "colum: not an argument of this expectation (did you mean column?); column: required"),
    ("expect_column_values_to_be_between", {"column": "n", "mostly": 2}, "mostly: should be in [0.0, 1.0] (got 2)"),
    ("expect_column_values_to_be_between", {"column": "n", "mostly": "most"}, "mostly: should be mapping or number"),
    ("expect_column_values_to_not_be_null", {"column": ""}, "column is empty"),
])
def test_the_index_refuses_names_arguments_and_kinds_as_gx_would(name, kwargs, reason):
    problem = rule_problem(name, kwargs)
    assert problem is not None and reason in problem, problem


RULES_ONLY_GX_REFUSES = [  # GX's own validators refuse these; the index cannot tell
    {"expect_table_row_count_to_be_between": {"min_value": 10, "max_value": 5}},
    {"expect_column_value_lengths_to_be_between": {"column": "text"}},
]


def test_what_only_gx_refuses_is_refused_by_check_at_the_rules_yaml_path(write_pipelines, tiny_model_dir,
                                                                        review_files, capsys):
    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["validation"]["expectations"] += RULES_ONLY_GX_REFUSES
    assert main(["check", "-f", str(write_pipelines({"tiny": spec}))]) == 1
    err = capsys.readouterr().err
    assert ("pipelines.tiny.validation.expectations[2]: invalid arguments for 'expect_table_row_count_to_be_between':"
            " __root__: min_value (10) must be less than or equal to max_value (5)") in err
    assert "pipelines.tiny.validation.expectations[3]: invalid arguments for " in err


def test_rules_the_checks_built_are_not_built_again_when_the_run_starts(write_pipelines, tiny_model_dir,
                                                                       review_files, monkeypatch):
    from modelmill.checks import expectations, strict
    from modelmill.config import load_pipelines
    from modelmill.runtime.preflight import problems_of

    path = write_pipelines({"tiny": pipeline_dict(tiny_model_dir, review_files)})
    spec = load_pipelines(path).pipelines["tiny"]
    assert spec.validation.all_rules() and problems_of(path, {"tiny": spec}) == {"tiny": []}
    # when the flow checks the same rules at its start, GX is not asked again
    built = []
    monkeypatch.setattr(expectations, "build_expectation", lambda name, kwargs: built.append(name))
    assert strict.rule_problems("tiny", spec) == [] and built == []
    # and a changed rule set is built
    changed = spec.model_copy(deep=True)
    changed.validation.expectations[0].kwargs["mostly"] = 0.5
    strict.rule_problems("tiny", changed)
    assert built == [rule.expectation for _, rule in changed.validation.all_rules()]


def test_a_fresh_process_builds_the_rules_in_a_child_and_reads_its_problems(write_pipelines, tiny_model_dir,
                                                                           review_files, monkeypatch):
    import sys

    from modelmill.checks import strict
    from modelmill.config import load_pipelines

    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["validation"]["expectations"].append({"expect_table_row_count_to_be_between": {"min_value": 10,
                                                                                          "max_value": 5}})
    path = write_pipelines({"tiny": spec, "clean": pipeline_dict(tiny_model_dir, review_files)})
    pipelines = load_pipelines(path).pipelines
    monkeypatch.setattr(strict, "_BUILT", set())
    monkeypatch.delitem(sys.modules, "great_expectations")  # as in a fresh `modelmill run` or `check`
    child = strict.start(path, pipelines)
    assert child is not None, "GX is imported in a child while this process checks the data"
    found = strict.finish(child, pipelines)
    assert child.returncode == 0 and found["clean"] == []
    assert found["tiny"] == ["pipelines.tiny.validation.expectations[2]: invalid arguments for "
                             "'expect_table_row_count_to_be_between': __root__: min_value (10) must be less than or "
                             "equal to max_value (5)"]
    # the clean rules were built there: a later check in this process does not build them again
    assert strict.start(path, {"clean": pipelines["clean"]}) is None
