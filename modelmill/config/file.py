"""Read `pipelines.yaml` into a `PipelinesFile`, with errors that name the file and the YAML path."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from modelmill.config.loader import load_yaml_file
from modelmill.config.messages import format_validation_error
from modelmill.config.pipeline import PipelinesFile, PipelineSpec
from modelmill.runtime.errors import ConfigError

DEFAULT_FILE = Path("pipelines.yaml")


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
