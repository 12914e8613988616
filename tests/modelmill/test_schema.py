"""The editor schema (`modelmill schema`) accepts the documented syntax and rejects what the loader rejects."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from modelmill.cli import main

REPO_ROOT = Path(__file__).parents[2]
EDITED = [  # the files people open in an editor: each names the shipped schema
    REPO_ROOT / "pipelines.yaml",
    *sorted((REPO_ROOT / "bench").glob("*.yaml")),
    *sorted((REPO_ROOT / "examples").glob("*/pipelines.yaml")),
]
SHIPPED = [*EDITED, *sorted((REPO_ROOT / "tests" / "configs" / "valid").glob("*.yaml"))]
# bad files `modelmill check` refuses that an editor flags as they are typed (the others need the data, the model or
# a cross-field rule: only `check` finds those)
FLAGGED_BY_THE_EDITOR = [
    "typo_in_key", "wrong_type", "missing_model", "not_a_mapping", "bad_pipeline_name", "token_block_climbing_out",
    "unknown_training_argument", "training_argument_dataloader_num_workers",
    "training_argument_gradient_accumulation_steps", "training_argument_label_smoothing_factor",
    "training_argument_num_train_epochs", "training_argument_save_total_limit",
]


class EditorYaml(yaml.SafeLoader):
    """YAML 1.2, as editors' YAML language servers read it: only true/false are booleans (`on:` is a key)."""


EditorYaml.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
EditorYaml.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def editor_load(text: str) -> object:
    return yaml.load(text, Loader=EditorYaml)  # noqa: S506 - a SafeLoader subclass


@pytest.fixture(scope="module")
def printed() -> dict:
    """The schema as `modelmill schema` prints it."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["schema"]) == 0
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def validator(printed) -> jsonschema.Draft202012Validator:
    """The printed schema, checked to be a valid JSON Schema itself."""
    jsonschema.Draft202012Validator.check_schema(printed)
    return jsonschema.Draft202012Validator(printed)


@pytest.mark.parametrize("path", EDITED, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_shipped_pipelines_file_names_the_shipped_schema_for_editors(printed, path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert match, f"{path.name} does not start with the yaml-language-server schema comment: {first!r}"
    schema = (path.parent / match.group(1)).resolve()
    assert schema == REPO_ROOT / "pipelines.schema.json"
    assert json.loads(schema.read_text(encoding="utf-8")) == printed, (
        "pipelines.schema.json is not what `modelmill schema` prints: run `modelmill schema > pipelines.schema.json`")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_shipped_pipelines_file_is_valid_against_the_schema(validator, path):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(editor_load(path.read_text()))]
    assert not errors, errors


@pytest.mark.parametrize("name", FLAGGED_BY_THE_EDITOR)
def test_the_schema_rejects_what_check_rejects(validator, name, capsys):
    path = REPO_ROOT / "tests" / "configs" / "invalid" / f"{name}.yaml"
    assert main(["check", "-f", str(path)]) == 1
    assert list(validator.iter_errors(editor_load(path.read_text()))), f"{name}.yaml passes the schema"
