"""The command line: check, list, schema and clear errors with a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelmill.cli import main

REPO_ROOT = Path(__file__).parents[2]
PIPELINES = str(REPO_ROOT / "pipelines.yaml")


def test_check_accepts_the_shipped_file(capsys):
    assert main(["check", "-f", PIPELINES]) == 0
    assert "OK (1 pipeline(s) checked with their data, model and metrics: sentiment)" in capsys.readouterr().out


def test_check_accepts_each_example_of_another_task_type(capsys):
    outputs = {}
    for folder in sorted((REPO_ROOT / "examples").iterdir()):
        assert main(["check", "-f", str(folder / "pipelines.yaml")]) == 0, capsys.readouterr()
        outputs[folder.name] = capsys.readouterr().out
    assert all("OK (1 pipeline(s) checked with their data, model and metrics" in out
               for name, out in outputs.items() if name not in ("domain", "assistant"))
    assert ("OK (3 pipeline(s) checked with their data, model and metrics: general-mlm, news-mlm, news-events)"
            in outputs["domain"]), "the chain of domain adaptation, then fine-tuning"
    assert "OK (2 pipeline(s) checked with their data, model and metrics: assistant, assistant-dpo)" in outputs[
        "assistant"], "instruction tuning, then preference tuning"


def test_a_token_task_s_bad_row_is_found_by_check(tmp_path, capsys):
    example = REPO_ROOT / "examples" / "entities"
    (tmp_path / "data").mkdir()
    for split in ("train", "validation", "test"):
        lines = (example / "data" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        if split == "train":
            lines[2] = json.dumps({"tokens": ["anna", "left"], "tags": ["B-PER"]})
        (tmp_path / "data" / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    pipelines = tmp_path / "pipelines.yaml"
    pipelines.write_text((example / "pipelines.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["check", "-f", str(pipelines)]) == 1
    error = capsys.readouterr().err
    assert "data/train.jsonl: row 3: 'tokens' has 2 words and 'tags' 1 tags: one tag per word" in error


def test_list_shows_model_target_and_schedule(capsys):
    assert main(["list", "-f", PIPELINES]) == 0
    out = capsys.readouterr().out
    assert "sentiment" in out and "modelmill-examples/sentiment-minilm" in out and "0 3 * * 1" in out


def test_schema_is_json_schema_of_the_file(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "pipelines" in schema["properties"]


def test_errors_exit_non_zero_with_the_file_and_yaml_path(tmp_path: Path, capsys):
    bad = tmp_path / "pipelines.yaml"
    bad.write_text("pipelines:\n  x:\n    data: {file: d.csv}\n    model: {name_or_path: m}\n    push: {repo_id: nope}\n")
    assert main(["check", "-f", str(bad)]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "pipelines.x.push.repo_id" in err


def test_run_of_an_unknown_pipeline_fails_before_any_work(capsys):
    assert main(["run", "nope", "-f", PIPELINES]) == 1
    assert "no pipeline named 'nope'; known: sentiment" in capsys.readouterr().err


def test_validate_checks_the_data_and_exits_1_on_a_critical_rule(
    prefect, write_pipelines, tiny_model_dir, review_files, capsys
):
    from tests.conftest import pipeline_dict

    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["validation"]["expectations"].append(
        {"expect_table_row_count_to_be_between": {"min_value": 40}, "severity": "warning"})
    path = str(write_pipelines({"tiny": spec}))
    assert main(["validate", "tiny", "-f", path]) == 0
    out = capsys.readouterr().out
    assert "2 warning(s), 0 failed" in out and "Data Docs: " in out and out.rstrip().endswith("report.html")
    assert "[validation] expect_table_row_count_to_be_between(min_value=40) (warning" in out
    spec["validation"]["expectations"][-1]["severity"] = "critical"
    path = str(write_pipelines({"tiny": spec}))
    assert main(["validate", "tiny", "-f", path]) == 1
    assert "0 warning(s), 2 failed" in capsys.readouterr().err


@pytest.mark.parametrize("price", ["abc", "nan", "inf", "-2", "0"])
def test_a_bad_price_setting_is_refused_naming_its_variable(price, monkeypatch, capsys):
    monkeypatch.setenv("MODELMILL_PRICE", price)
    assert main(["check", "-f", PIPELINES]) == 1
    err = capsys.readouterr().err
    assert "bad setting in the environment: MODELMILL_PRICE: " in err and "Traceback" not in err
