"""The `train` section: fine-tuning settings passed to `transformers.TrainingArguments`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from modelmill.config.base import (
    MAX_ACCUMULATION,
    MAX_BATCH,
    MAX_PROCESSES,
    MAX_STEPS,
    REDIRECTING_ARGUMENTS,
    BatchSize,
    Epochs,
    LearningRate,
    MaxSteps,
    Section,
    Seed,
)
from modelmill.config.library_index import scheduler_names, training_argument_names


class RaySpec(Section):
    """Workers of `train.engine: ray` (the cluster is a setting: MODELMILL_RAY_ADDRESS)."""

    num_workers: int = Field(1, ge=1, le=MAX_PROCESSES, description="Training workers on the Ray cluster. "
                             "`train.batch_size` is the effective batch, split between them.")
    use_gpu: Literal["auto"] | bool = Field("auto", description="A GPU per worker: auto is yes when the cluster "
                                            "has a GPU for each worker.")


class TrainSpec(Section):
    """Fine-tuning settings passed to `transformers.TrainingArguments`."""

    epochs: Epochs = 3.0
    learning_rate: LearningRate = 5e-5
    batch_size: BatchSize = 16
    eval_batch_size: int = Field(64, ge=1, le=MAX_BATCH)
    gradient_accumulation_steps: int = Field(1, ge=1, le=MAX_ACCUMULATION)
    weight_decay: float = Field(0.0, ge=0, le=10)
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    lr_scheduler_type: str = "linear"
    max_steps: MaxSteps = Field(-1, description="Stop after this many optimizer steps (-1: train all epochs).")
    seed: Seed = 42
    eval_strategy: Literal["epoch", "steps"] = "epoch"
    eval_steps: int | None = Field(None, ge=1, le=MAX_STEPS)
    logging_steps: int = Field(10, ge=1, le=MAX_STEPS)
    early_stopping_patience: int | None = Field(None, ge=1, le=1_000)
    metric_for_best_model: Literal["loss", "accuracy"] = Field(
        "loss", description="Validation metric that picks the best checkpoint."
    )
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto", description="auto: bf16 on a GPU that supports it, fp16 on other GPUs, fp32 on CPU."
    )
    group_by_length: bool = Field(
        True, description="Batches of texts of similar length (shuffled in large groups): far less padding to "
        "compute through; false: batches drawn at random.",
    )
    tf32: Literal["auto"] | bool = Field("auto", description="TF32 matmuls: auto is on for GPUs that have them "
                                         "(compute capability 8+), off elsewhere.")
    optimizer: Literal["auto", "adamw_torch", "adamw_torch_fused", "adafactor", "sgd"] = Field(
        "auto", description="auto: fused AdamW on a GPU, AdamW elsewhere.")
    dataloader_workers: Literal["auto"] | Annotated[int, Field(ge=0, le=64)] = Field(
        "auto", exclude=True, description="Data-loader processes: auto is up to 4 per training process on a GPU "
        "machine, none on CPU (they do not change the model).")
    compile: bool = Field(False, description="torch.compile the model (slower start, faster steps on GPUs).")
    gradient_checkpointing: bool = Field(False, description="Recompute activations: less memory, slower steps.")
    effective_batch_size: int | None = Field(
        None, ge=1, le=MAX_BATCH * MAX_ACCUMULATION, description="Examples per optimizer step: gradient "
        "accumulation reaches it from batch_size (instead of gradient_accumulation_steps).")
    processes: Literal["auto"] | Annotated[int, Field(ge=1, le=MAX_PROCESSES)] = Field(
        "auto", exclude=True,
        description="Training processes on this node (torchrun): auto is one per visible GPU, else 1. `batch_size` "
        "is the effective batch, split between them, so the count is not part of the model's identity.",
    )
    engine: Literal["local", "ray"] = Field(
        "local", exclude=True,
        description="local: this node (`processes`); ray: Ray Train's TorchTrainer on the Ray cluster that "
        "MODELMILL_RAY_ADDRESS names (auto: a local one). Neither changes the model's identity.",
    )
    ray: RaySpec = Field(default_factory=RaySpec, exclude=True, description="Workers when `engine` is ray.")
    share: int = Field(1, ge=1, le=64, exclude=True, description="Trainings that share this machine at once (a "
                       "parallel search sets it): above 1, this one trains in its own process with its share of "
                       "the cores.")
    training_arguments: dict[str, Any] = Field(
        default_factory=dict, description="Any other `TrainingArguments` field, passed through as is."
    )

    @model_validator(mode="after")
    def _consistent(self) -> TrainSpec:
        if self.effective_batch_size is not None and self.gradient_accumulation_steps != 1:
            raise ValueError("give effective_batch_size or gradient_accumulation_steps, not both")
        if self.eval_strategy == "steps" and self.eval_steps is None:
            raise ValueError("eval_strategy 'steps' needs `eval_steps`")
        known = training_argument_names()
        unknown = sorted(set(self.training_arguments) - known)
        if unknown:
            raise ValueError(f"training_arguments has fields TrainingArguments does not know: {unknown}")
        redirecting = sorted(set(self.training_arguments) & REDIRECTING_ARGUMENTS)
        if redirecting:
            raise ValueError(
                f"training_arguments may not set {redirecting}: modelmill chooses where a run writes and what "
                "it publishes (see push:)"
            )
        return self

    def updated(self, **values: Any) -> TrainSpec:
        """This section with `values` set, validated like the YAML; the settings that are not part of the identity
        (excluded from dumps: processes, engine, ray...) are kept."""
        kept = {name: getattr(self, name) for name, field in TrainSpec.model_fields.items() if field.exclude}
        return TrainSpec.model_validate({**self.model_dump(), **kept, **values})

    @field_validator("lr_scheduler_type")
    @classmethod
    def _known_scheduler(cls, value: str) -> str:
        names = scheduler_names()
        if value not in names:
            raise ValueError(f"unknown scheduler {value!r}; one of {', '.join(names)}")
        return value
