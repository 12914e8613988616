"""The documentation site builds with `mkdocs build --strict` (a broken link or anchor fails it), its reference
lists every key of pipelines.yaml and every command and option, and the rule file its data-team tutorial shows is
one `modelmill check` accepts."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from modelmill.cli import main, parser
from modelmill.config import PipelinesFile

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)], cwd=ROOT,
                           capture_output=True, text=True, env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin",
                                                                 "HOME": str(out)})
    assert built.returncode == 0, built.stderr
    return out


def sections_of(model: type[BaseModel], path: str) -> typing.Iterator[tuple[str, str]]:
    """(section path, key) of every key under `model`, walked here apart from the generator it checks."""
    for name, field in model.model_fields.items():
        yield path, name
        stack = [field.annotation]
        while stack:
            kind = stack.pop()
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                yield from sections_of(kind, f"{path}.{name}" if path else name)
            else:
                stack.extend(typing.get_args(kind))


def test_the_site_builds_strictly_with_a_page_per_task_type_and_tutorial(site):
    for page in ("get-started", "tutorials/operator", "tutorials/ui", "tutorials/data-team", "concepts/stages",
                 "concepts/caching", "reference/pipelines-yaml", "reference/cli", "reference/settings"):
        assert (site / page / "index.html").is_file(), page
    task_types = {path.parent.name for path in (site / "task-types").glob("*/index.html")}
    from modelmill.task_types import TASK_TYPES

    assert set(TASK_TYPES) <= task_types, set(TASK_TYPES) - task_types


def test_the_reference_lists_every_key_of_pipelines_yaml(site):
    html = (site / "reference" / "pipelines-yaml" / "index.html").read_text(encoding="utf-8")
    tables = dict(re.findall(r"<h3 id=\"[^\"]*\"><code>(.*?)</code>.*?</h3>(.*?)(?=<h[23] |$)", html, re.S))
    missing = []
    for path, key in sections_of(PipelinesFile, ""):
        title = path.replace("pipelines.", "pipelines.&lt;name&gt;.", 1) if path else "(top level)"
        if f"<code>{key}</code>" not in tables.get(title, ""):
            missing.append(f"{path}.{key}" if path else key)
    assert not missing, missing


def test_the_reference_lists_every_command_and_option(site):
    html = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    root = parser()
    commands = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction)).choices  # noqa: SLF001
    for name, command in commands.items():
        assert f"<code>modelmill {name}</code>" in html, name
        for action in command._actions:  # noqa: SLF001
            for option in action.option_strings:
                assert option in html, f"modelmill {name} {option}"


def test_the_tutorial_s_rule_file_is_accepted_by_check(tmp_path, capsys):
    page = (ROOT / "docs" / "tutorials" / "data-team.md").read_text(encoding="utf-8")
    [rules] = [block for block in re.findall(r"```yaml\n(.*?)```", page, re.S) if block.startswith("suite:")]
    (tmp_path / "expectations").mkdir()
    (tmp_path / "expectations" / "reviews.yaml").write_text(rules, encoding="utf-8")
    pipelines = yaml.safe_load((ROOT / "pipelines.yaml").read_text(encoding="utf-8"))
    spec = pipelines["pipelines"]["sentiment"]
    spec["data"]["files"] = {split: str(ROOT / "data" / "sentiment" / f"{split}.csv")
                             for split in ("train", "validation", "test")}
    spec["validation"]["suites"] = ["expectations/reviews.yaml"]
    (tmp_path / "pipelines.yaml").write_text(yaml.safe_dump(pipelines), encoding="utf-8")
    assert main(["check", "-f", str(tmp_path / "pipelines.yaml")]) == 0, capsys.readouterr().err


def test_the_readme_is_short_and_its_links_into_the_site_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode()) < 10_000
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert len(links) >= 10 and all((ROOT / link).is_file() for link in links), links
