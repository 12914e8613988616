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
SHIPPED = [
    REPO_ROOT / "pipelines.yaml",
    *sorted((REPO_ROOT / "bench").glob("*.yaml")),
    *sorted((REPO_ROOT / "tests" / "configs" / "valid").glob("*.yaml")),
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
def validator() -> jsonschema.Draft202012Validator:
    """The schema as `modelmill schema` prints it, checked to be a valid JSON Schema itself."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["schema"]) == 0
    schema = json.loads(out.getvalue())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_shipped_pipelines_file_is_valid_against_the_schema(validator, path):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(editor_load(path.read_text()))]
    assert not errors, errors


@pytest.mark.parametrize("name", ["typo_in_key", "wrong_type", "missing_model", "not_a_mapping"])
def test_the_schema_rejects_what_the_loader_rejects(validator, name):
    document = editor_load((REPO_ROOT / "tests" / "configs" / "invalid" / f"{name}.yaml").read_text())
    assert list(validator.iter_errors(document)), f"{name}.yaml passes the schema"
