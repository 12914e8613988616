"""What every section of `pipelines.yaml` shares: the strict base model, the bounds, the shared vocabulary.

Relative paths are resolved against the folder of the YAML file (pass ``context={"base_dir": ...}`` to
``model_validate``); defaults live in the section models and nowhere else.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from modelmill.config.library_index import NUMBER_TEXT
from modelmill.storage.urls import DataFolder, DataURL

SPLITS = ("train", "validation", "test")
SEED_RANGE = {"ge": 0, "le": 2**32 - 1}  # what numpy and torch accept
# Upper bounds: a value past them is a typo or an attack (1e30 steps, 9.2e18 epochs, a retry delay of 30 000 years),
# never a plan; each is far above what a fine-tuning run uses.
MAX_EPOCHS = 1_000
MAX_STEPS = 10_000_000
MAX_BATCH = 65_536
MAX_ACCUMULATION = 4_096
MAX_PROCESSES = 256  # training processes on one node
MAX_LEARNING_RATE = 10.0
MAX_ROWS = 10_000_000  # rows sampled, shown or counted by a setting
MAX_DELAY_SECONDS = 3_600.0
MAX_TEXT = 10_000  # characters in any text value: names, paths, descriptions
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MULTILINE = frozenset({"description", "commit_message"})  # the only values that may span lines

# The train fields a run may override (the UI form, `--set`): bounded here once, for the YAML and the overrides.
Epochs = Annotated[float, Field(gt=0, le=MAX_EPOCHS)]
LearningRate = Annotated[float, Field(gt=0, le=MAX_LEARNING_RATE)]
BatchSize = Annotated[int, Field(ge=1, le=MAX_BATCH)]
MaxSteps = Annotated[int, Field(ge=-1, le=MAX_STEPS)]
Seed = Annotated[int, Field(**SEED_RANGE)]
# TrainingArguments fields that would write or send outside the run's own folder, or resume someone else's state.
REDIRECTING_ARGUMENTS = frozenset(
    {"output_dir", "logging_dir", "resume_from_checkpoint", "push_to_hub", "hub_model_id", "hub_token",
     "hub_strategy", "hub_private_repo", "hub_always_push", "hub_revision", "report_to"}
)
PER_CLASS_METRICS = ("precision", "recall", "f1")
MACRO_F1 = "macro_f1"  # computed on every evaluated set besides evaluate.metrics: baselines and gaps compare on it
PIPELINE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # it names deployments, artifacts and runs




def accept_numbers_written_as_text(schema: dict[str, Any]) -> None:
    """PyYAML reads `3e-5` as a string, which the models accept: the editor schema must accept it too."""
    for field in schema.get("properties", {}).values():
        for option in [field, *field.get("anyOf", [])]:
            if option.get("type") == "number":
                bounds = {k: option.pop(k) for k in list(option) if k not in ("type", "title", "description", "default")}
                option.pop("type")
                option["anyOf"] = [{"type": "number", **bounds}, {"type": "string", "pattern": NUMBER_TEXT}]


def _is_number(annotation: Any) -> bool:
    """Whether a field holds a number (int or float, optional or constrained), not a boolean."""
    if annotation in (int, float):
        return True
    return any(_is_number(arg) for arg in get_args(annotation) if arg is not type(None))


class Section(BaseModel):
    """Base of every section: unknown keys are errors and specs are immutable."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, json_schema_extra=accept_numbers_written_as_text,
        str_max_length=MAX_TEXT,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _plain_values(cls, value: Any, info: ValidationInfo) -> Any:
        """`epochs: yes` is YAML for true, which pydantic would take as 1: a number must be written as one. A text
        may not hold control characters (a NUL in a path fails deep inside a library)."""
        if isinstance(value, bool) and info.field_name and _is_number(cls.model_fields[info.field_name].annotation):
            raise ValueError(f"{str(value).lower()} is a boolean; write a number")
        if isinstance(value, str) and CONTROL.search(value):
            raise ValueError("control characters (such as NUL) are not allowed in a value")
        if isinstance(value, str) and "\n" in value and info.field_name not in MULTILINE:
            raise ValueError("a line break is not allowed in this value")
        return value


def _resolve(path: Path | None, info: ValidationInfo) -> Path | None:
    if path is None or isinstance(path, str) or path.is_absolute():  # a DataURL is taken as written
        return path
    base = (info.context or {}).get("base_dir")
    return (Path(base) / path).resolve() if base else path


def _resolve_data(location: Path | str | None, info: ValidationInfo) -> Path | str | None:
    """A data location resolved against the YAML's folder; a local folder (`data/incoming/`, or a path that is
    one) becomes a DataFolder, read as every data file under it."""
    resolved = _resolve(location, info)  # type: ignore[arg-type]
    if isinstance(resolved, Path) and not isinstance(resolved, DataFolder) and resolved.is_dir():
        return DataFolder(resolved)
    if isinstance(location, DataFolder) and not isinstance(resolved, DataFolder):
        return DataFolder(resolved)
    return resolved


DATA_URL_SCHEMES = ("s3", "gs", "gcs", "abfs", "az")  # object stores, read with MODELMILL_STORAGE_OPTIONS


def _data_location(value: Any) -> Any:
    if not isinstance(value, str) or "://" not in value:
        if isinstance(value, str) and value.endswith(("/", os.sep)):
            return DataFolder(value)
        return Path(value) if isinstance(value, str) else value
    scheme, rest = value.split("://", 1)
    if scheme.lower() not in DATA_URL_SCHEMES:
        raise ValueError(f"'{value}': a data file is a local path or a URL on {', '.join(DATA_URL_SCHEMES)}")
    if "/" not in rest.strip("/"):
        raise ValueError(f"'{value}' names a bucket: name a file in it, or a folder (s3://bucket/incoming/)")
    if DataURL(value).name in (".", ".."):
        raise ValueError(f"'{value}': '.' and '..' cannot end a data URL; name the file or folder itself")
    return DataURL(value)


def _rewrap(value: Any) -> Any:
    return DataURL(value) if isinstance(value, str) and not isinstance(value, DataURL) else value


DataLocation = Annotated[Path | str, BeforeValidator(_data_location), AfterValidator(_rewrap)]
"""A data file or folder: a local path (relative to the YAML file) or a URL on object storage
(s3://bucket/key.csv); a folder (`data/incoming/`, s3://bucket/incoming/) is read as all its data files."""
