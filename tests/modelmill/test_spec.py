"""pipelines.yaml: valid files load, invalid files fail before any work at the right YAML path."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelmill.runtime.errors import ConfigError
from modelmill.config.file import load_pipeline, load_pipelines

CONFIGS = Path(__file__).parent.parent / "configs"
REPO_ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("path", sorted((CONFIGS / "valid").glob("*.yaml")), ids=lambda p: p.stem)
def test_valid_configs_load(path: Path):
    assert load_pipelines(path).pipelines


@pytest.mark.parametrize("path", sorted((CONFIGS / "invalid").glob("*.yaml")), ids=lambda p: p.stem)
def test_invalid_configs_name_the_file_and_the_yaml_path(path: Path):
    # given a file whose first line says where its error is
    expected = path.read_text().splitlines()[0].removeprefix("# expect: ")
    # when it is loaded
    with pytest.raises(ConfigError) as error:
        load_pipelines(path)
    # then the message names the file, and one of its lines names the YAML path and the reason
    message = str(error.value)
    assert message.startswith(str(path)), message
    where, _, reason = expected.partition(": ") if ": " in expected else ("", "", expected)
    assert any(f"{where}:" in line and reason in line for line in message.splitlines()), message


def test_the_shipped_pipelines_file_is_valid():
    assert "sentiment" in load_pipelines(REPO_ROOT / "pipelines.yaml").pipelines


def test_scientific_notation_that_yaml_reads_as_a_string_is_a_float():
    spec = load_pipeline("reviews", CONFIGS / "valid" / "everything.yaml")
    assert spec.train.learning_rate == pytest.approx(3e-5)
    assert spec.train.training_arguments["adam_epsilon"] == pytest.approx(1e-8)  # a pass-through field too


def test_notify_on_written_bare_in_yaml_is_the_on_field():
    spec = load_pipeline("reviews", CONFIGS / "valid" / "everything.yaml")
    assert spec.notify is not None and spec.notify.on == ["failed", "not_promoted"]


def test_relative_data_paths_resolve_against_the_yaml_folder():
    spec = load_pipeline("spam", CONFIGS / "valid" / "single_file_split.yaml")
    assert spec.data.file == (CONFIGS / "valid" / "data" / "sms.csv").resolve()


def test_defaults_come_from_the_spec():
    spec = load_pipeline("spam", CONFIGS / "valid" / "single_file_split.yaml")
    assert spec.data.ratios.seed == 7
    assert spec.retries.max_retries == 2
    assert spec.train.precision == "auto"
    assert spec.evaluate.metrics == ["accuracy", "f1"]


def test_every_error_in_a_file_is_reported_at_once(tmp_path: Path):
    path = tmp_path / "pipelines.yaml"
    path.write_text(
        "pipelines:\n  a:\n    data: {file: d.csv, text_colum: t}\n    model: {name_or_path: m}\n"
        "    train: {epochs: -1}\n    push: {repo_id: a/b}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_pipelines(path)
    assert "pipelines.a.data.text_colum" in str(error.value)
    assert "pipelines.a.train.epochs" in str(error.value)


def test_unknown_pipeline_name_lists_the_known_ones():
    with pytest.raises(ConfigError, match="known: sentiment"):
        load_pipeline("sentimnet", REPO_ROOT / "pipelines.yaml")


def test_missing_file_and_bad_yaml_are_config_errors(tmp_path: Path):
    with pytest.raises(ConfigError, match="file not found"):
        load_pipelines(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("pipelines: {a: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_pipelines(broken)


@pytest.mark.parametrize("page", ["docs/reference/pipelines-yaml.md", "README.md"])
def test_the_documented_pipelines_yaml_is_a_valid_file(tmp_path: Path, page):
    # given the reference's annotated pipelines.yaml (or the README's short one), with the rule file it names
    import re

    text = (REPO_ROOT / page).read_text()
    (tmp_path / "pipelines.yaml").write_text(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))
    (tmp_path / "expectations").mkdir()
    rule = "rules: [{expect_column_values_to_not_be_null: {column: text}}]\n"
    (tmp_path / "expectations" / "reviews.yaml").write_text(rule)
    # then it loads: every key it documents exists and every example value is accepted
    assert load_pipelines(tmp_path / "pipelines.yaml").pipelines
