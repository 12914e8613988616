"""The `train.adapter` section: parameter-efficient fine-tuning through PEFT (LoRA; QLoRA on a CUDA device).

    train:
      adapter:
        method: lora            # qlora: the base in 4 bits (bitsandbytes), CUDA only
        r: 16
        alpha: 32
        dropout: 0.05
        target_modules: all-linear
        merge: false            # push the adapter (default) or the base with the adapter merged into it
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from modelmill.config.base import Section

MAX_RANK = 1_024
MODULE_NAME = r"^[A-Za-z_][A-Za-z0-9_.]*$"
ModuleName = Annotated[str, Field(min_length=1, max_length=200, pattern=MODULE_NAME)]
SEARCHABLE = ("r", "alpha", "dropout")  # what a search space may name as `adapter.<field>`


class AdapterSpec(Section):
    """Train a low-rank adapter (LoRA) instead of every weight: the base stays frozen, the adapter is the artifact."""

    method: Literal["lora", "qlora"] = Field("lora", description="lora: a low-rank adapter on the base's weights; "
                                             "qlora: the same on a 4-bit base (bitsandbytes), on a CUDA device only "
                                             "(refused elsewhere, never downgraded).")
    r: int = Field(16, ge=1, le=MAX_RANK, description="Rank of the adapter's matrices.")
    alpha: int = Field(32, ge=1, le=16 * MAX_RANK, description="LoRA alpha: the adapter's update is scaled by "
                       "alpha / r.")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the adapter's input.")
    target_modules: Literal["all-linear"] | Annotated[list[ModuleName], Field(min_length=1, max_length=100)] = Field(
        "all-linear", description="The layers that get an adapter: all-linear (every linear layer but the output "
        "layer, as PEFT picks them) or their names (e.g. [query, value]).")
    modules_to_save: list[ModuleName] | None = Field(
        None, max_length=100, description="Layers trained in full and saved with the adapter. Default: the task's "
        "new head (classifier, qa_outputs...), as PEFT's task types choose it.")
    merge: bool = Field(False, description="Push the base with the adapter merged into it (a plain model), "
                        "instead of the adapter alone.")

    @field_validator("modules_to_save")
    @classmethod
    def _distinct(cls, names: list[str] | None) -> list[str] | None:
        if names is not None and len(set(names)) != len(names):
            raise ValueError("modules_to_save names a layer twice")
        return names
