"""Read `pipelines.yaml` into a `PipelinesFile`, with errors that name the file and the YAML path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from modelmill.errors import ConfigError
from modelmill.text_cells import shorten
from modelmill.spec import PipelineSpec, PipelinesFile, RuleFile
from modelmill.yaml_loader import load_yaml_file

DEFAULT_FILE = Path("pipelines.yaml")


def yaml_path(loc: tuple[Any, ...]) -> str:
    """('pipelines', 'sentiment', 'validation', 'expectations', 0) -> pipelines.sentiment.validation.expectations[0]."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(error: dict[str, Any]) -> str:
    # Pydantic puts validator/union branch names into loc; keep only what the user wrote.
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tagged-union"))))
    where = yaml_path(loc) or "(top level)"
    message = error["msg"].removeprefix("Value error, ").replace("\n", "\\n")  # one line per problem
    if error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling; unknown keys are not allowed)"
    elif error["type"] == "missing":
        message = "required key is missing"
    elif "input" in error and not isinstance(error["input"], (dict, list)):
        message += f" (got {shorten(repr(error['input']))})"
    return f"  {where}: {message}"


def format_validation_error(source: Path | str, exc: ValidationError) -> str:
    lines = [f"{source}: {exc.error_count()} error(s) in the pipelines file"]
    lines += [_describe(err) for err in exc.errors(include_url=False)]
    return "\n".join(lines)


def load_pipelines(path: Path | str = DEFAULT_FILE) -> PipelinesFile:
    """Parse and validate the whole file; raise ConfigError naming the file and each YAML path at fault."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found (pass --file to point at your pipelines.yaml)")
    raw = load_yaml_file(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with a `pipelines:` key, got {type(raw).__name__}")
    try:
        return PipelinesFile.model_validate(raw, context={"base_dir": path.resolve().parent})
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc)) from None


def select_pipeline(pipelines: dict[str, PipelineSpec], name: str, path: Path | str) -> PipelineSpec:
    """The pipeline named `name` of file `path`; an unknown name lists the known ones."""
    if name not in pipelines:
        raise ConfigError(f"{path}: no pipeline named '{name}'; known: {', '.join(sorted(pipelines))}")
    return pipelines[name]


def load_pipeline(name: str, path: Path | str = DEFAULT_FILE) -> PipelineSpec:
    """One pipeline by name; an unknown name lists the known ones."""
    return select_pipeline(load_pipelines(path).pipelines, name, path)


def load_rule_file(path: Path) -> RuleFile:
    """A data team's rule file; ValueError (it surfaces at the suite's YAML path) names the file and each rule's
    path inside it."""
    if not path.is_file():
        raise ValueError(f"rule file {path} not found")
    try:
        raw = load_yaml_file(path)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    try:
        return RuleFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(err).strip() for err in exc.errors(include_url=False))
        raise ValueError(f"{path}: {problems}") from None
