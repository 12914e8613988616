"""The `model` and `tokenizer` sections."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from modelmill.config.base import (
    Section,
)


def _inside_its_package(value: str | None) -> str | None:
    """A model reference is a Hub id, a local folder, or `pkg:<package>/<folder>` naming a folder inside that
    package (no `..`, no absolute folder); never a URL."""
    if value is not None and "://" in value:
        raise ValueError(f"{value!r} is a URL; give a Hub id (org/name), a local folder or pkg:<package>/<folder>")
    if value is None or not value.startswith("pkg:"):
        return value
    package, _, folder = value.removeprefix("pkg:").partition("/")
    parts = Path(folder).parts
    if not all(part.isidentifier() for part in package.split(".")) or not folder or Path(folder).is_absolute() or ".." in parts:
        raise ValueError(
            f"{value!r} must be pkg:<python package>/<folder inside it> (no '..', no absolute folder)"
        )
    return value


class ModelSpec(Section):
    """The pretrained model to fine-tune.

    `name_or_path` is a Hub id, a local folder, or ``pkg:<python package>/<folder>`` for a model
    that a Python package ships (offline).
    """

    name_or_path: str = Field(min_length=1, pattern=r"\S")
    revision: str | None = Field(None, min_length=1, pattern=r"\S")
    trust_remote_code: bool = False

    _package_folder = field_validator("name_or_path")(lambda value: _inside_its_package(value))


class TokenizerSpec(Section):
    """Tokenizer settings; the tokenizer defaults to the model's own."""

    _package_folder = field_validator("name_or_path")(lambda value: _inside_its_package(value))

    name_or_path: str | None = Field(None, min_length=1, pattern=r"\S")
    max_length: int = Field(128, ge=8, le=8192)
