"""The `model` and `tokenizer` sections."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

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
    from_config: bool = Field(False, description="Build the model from `name_or_path`'s config.json with new, "
                              "seeded weights instead of loading pretrained ones (where no pretrained model is "
                              "available offline).")
    encoder_decoder: bool = Field(False, description="summarization: warm-start a sequence-to-sequence model from "
                                  "this encoder (encoder and decoder both start from its weights, the decoder's "
                                  "cross-attention is new: bert2bert), where no pretrained seq2seq model is at hand.")

    @model_validator(mode="after")
    def _one_way_to_build(self) -> ModelSpec:
        if self.from_config and self.encoder_decoder:
            raise ValueError("give from_config or encoder_decoder, not both")
        return self

    _package_folder = field_validator("name_or_path")(lambda value: _inside_its_package(value))


class TokenizerSpec(Section):
    """Tokenizer settings; the tokenizer defaults to the model's own."""

    _package_folder = field_validator("name_or_path")(lambda value: _inside_its_package(value))

    name_or_path: str | None = Field(None, min_length=1, pattern=r"\S")
    max_length: int = Field(128, ge=8, le=8192)
    subword_labels: Literal["first", "all"] = Field(
        "first", description="token-classification: which sub-tokens of a word carry its tag: the first (the others "
        "are ignored by the loss and the metrics), or all (a B- tag becomes I- after the first).")
    stride: int | None = Field(None, ge=0, le=4096, description="question-answering: tokens that windows of a long "
                               "context share (default: a quarter of max_length); below max_length.")
    max_target_length: int = Field(128, ge=1, le=8192, description="summarization: the longest reference summary "
                                   "trained on, in tokens (longer ones are cut).")

    @model_validator(mode="after")
    def _windows_move_on(self) -> TokenizerSpec:
        if self.stride is not None and self.stride >= self.max_length:
            raise ValueError(f"stride ({self.stride}) must be below max_length ({self.max_length})")
        return self
