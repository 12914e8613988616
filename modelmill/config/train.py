"""The `train` section: fine-tuning settings passed to `transformers.TrainingArguments`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError, field_validator, model_validator

from modelmill.config.adapter import AdapterSpec
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
    accept_numbers_written_as_text,
)
from modelmill.config.library_index import (
    argument_problem,
    argument_value,
    scheduler_names,
    training_argument_names,
)

MAX_ARGUMENT = 2**31 - 1  # a pass-through number past this is a typo or an attack, never a setting
Fraction = Annotated[float, Field(ge=0, lt=1)]
Steps = Annotated[float, Field(gt=0, le=MAX_STEPS)]
# Bounds of the pass-through `TrainingArguments` that accept values which fail only later (or never: a nan norm
# trains a model of nans): the values a fine-tune can mean, as the train section bounds its own fields.
ARGUMENT_BOUNDS: dict[str, Any] = {
    "num_train_epochs": Epochs,
    "learning_rate": LearningRate,
    "max_steps": MaxSteps,
    "seed": Seed,
    "data_seed": Seed | None,
    "per_device_train_batch_size": BatchSize,
    "per_device_eval_batch_size": BatchSize,
    "gradient_accumulation_steps": Annotated[int, Field(ge=1, le=MAX_ACCUMULATION)],
    "eval_accumulation_steps": Annotated[int, Field(ge=1, le=MAX_ACCUMULATION)] | None,
    "max_grad_norm": Annotated[float, Field(ge=0, le=1e6)],
    "label_smoothing_factor": Fraction,
    "weight_decay": Annotated[float, Field(ge=0, le=10)],
    "warmup_steps": Annotated[float, Field(ge=0, le=MAX_STEPS)],
    "adam_beta1": Fraction,
    "adam_beta2": Fraction,
    "adam_epsilon": Annotated[float, Field(gt=0, le=1)],
    "logging_steps": Steps,
    "eval_steps": Steps | None,
    "save_steps": Steps,
    "save_total_limit": Annotated[int, Field(ge=1, le=10_000)] | None,
    "dataloader_num_workers": Annotated[int, Field(ge=0, le=64)],
    "dataloader_prefetch_factor": Annotated[int, Field(ge=1, le=1_024)] | None,
}


def pass_through_problem(name: str, value: Any) -> str | None:
    """Why `training_arguments.<name>: value` cannot train (a kind TrainingArguments does not take, nan, a huge or
    out-of-range number), or None."""
    problem = argument_problem(name, value)
    if problem is None and name in ARGUMENT_BOUNDS:
        try:
            TypeAdapter(ARGUMENT_BOUNDS[name]).validate_python(value, strict=not isinstance(value, int))
        except ValidationError as exc:
            problem = f"{exc.errors(include_url=False)[0]['msg'].lower()} (got {value!r})"
    elif problem is None and isinstance(value, (int, float)) and not isinstance(value, bool) \
            and abs(value) > MAX_ARGUMENT:
        problem = f"should be at most {MAX_ARGUMENT} in size (got {value!r})"
    return None if problem is None else f"training_arguments.{name}: {problem}"


def _known_arguments(schema: dict[str, Any]) -> None:
    """The editor schema of `training_arguments`: the names TrainingArguments knows, the bounded ones with their
    bounds (numbers written as text accepted, as the loader does)."""
    bounded = {"properties": {name: TypeAdapter(kind).json_schema() for name, kind in ARGUMENT_BOUNDS.items()}}
    accept_numbers_written_as_text(bounded)
    schema.update(propertyNames={"enum": sorted(training_argument_names())}, properties=bounded["properties"])


class RaySpec(Section):
    """Workers of `train.engine: ray` (the cluster is a setting: MODELMILL_RAY_ADDRESS)."""

    num_workers: int = Field(1, ge=1, le=MAX_PROCESSES, description="Training workers on the Ray cluster. "
                             "`train.batch_size` is the effective batch, split between them.")
    use_gpu: Literal["auto"] | bool = Field("auto", description="A GPU per worker: auto is yes when the cluster "
                                            "has a GPU for each worker.")


class TrainSpec(Section):
    """Fine-tuning settings passed to `transformers.TrainingArguments`."""

    epochs: Epochs = Field(3.0, description="Passes over the training split.")
    learning_rate: LearningRate = Field(5e-5, description="Peak learning rate of the optimizer.")
    batch_size: BatchSize = Field(
        16, description="Examples per optimizer step, over every process (split between them)."
    )
    eval_batch_size: int = Field(64, ge=1, le=MAX_BATCH, description="Examples per forward pass when evaluating.")
    gradient_accumulation_steps: int = Field(
        1, ge=1, le=MAX_ACCUMULATION, description="Batches whose gradients are summed before each optimizer step."
    )
    weight_decay: float = Field(0.0, ge=0, le=10, description="AdamW weight decay.")
    warmup_ratio: float = Field(
        0.0, ge=0, lt=1, description="Share of the steps over which the learning rate rises from zero."
    )
    lr_scheduler_type: str = Field(
        "linear", description="How the learning rate falls after warm-up (a transformers scheduler name)."
    )
    max_steps: MaxSteps = Field(-1, description="Stop after this many optimizer steps (-1: train all epochs).")
    seed: Seed = Field(
        42, description="Seeds the new weights, the shuffling and dropout: the same inputs give the same model."
    )
    eval_strategy: Literal["epoch", "steps"] = Field(
        "epoch", description="Evaluate on validation after every epoch, or every `eval_steps` steps."
    )
    eval_steps: int | None = Field(
        None, ge=1, le=MAX_STEPS, description="With eval_strategy: steps, the steps between evaluations."
    )
    logging_steps: int = Field(10, ge=1, le=MAX_STEPS, description="Steps between training-loss log lines.")
    early_stopping_patience: int | None = Field(
        None, ge=1, le=1_000, description="Stop after this many evaluations without improvement (null: never)."
    )
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
        "auto", description="auto: fused AdamW (on GPUs and CPUs alike).")
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
    completion_only_loss: bool = Field(True, description="text-generation: the loss counts the answers' tokens "
                                       "only (the assistant's turns, the completion), not the prompts'.")
    packing: bool = Field(False, description="text-generation: pack short rows into max_length sequences "
                          "(best-fit, padding-free; no attention across rows): fewer, fuller batches.")
    objective: Literal["dpo", "orpo"] = Field("dpo", description="preference: the preference loss: DPO (against "
                                              "the SFT model as reference) or ORPO (odds ratio, no reference).")
    beta: float = Field(0.1, gt=0, le=100, description="preference: the method's beta (DPO: how far the model may "
                        "move from its reference; ORPO: the weight of the odds-ratio term).")
    adapter: AdapterSpec | None = Field(None, description="Train a LoRA adapter (PEFT) on the frozen base instead "
                                        "of every weight; the adapter is what the stage publishes and push uploads.")
    training_arguments: dict[str, Any] = Field(
        default_factory=dict, description="Any other `TrainingArguments` field, passed through as is.",
        json_schema_extra=lambda schema: _known_arguments(schema),
    )

    @field_validator("training_arguments")
    @classmethod
    def _numbers_written_as_text(cls, values: dict[str, Any]) -> dict[str, Any]:
        known = training_argument_names()
        return {name: argument_value(name, value) if name in known else value for name, value in values.items()}

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
        problems = [problem for name, value in self.training_arguments.items()
                    if (problem := pass_through_problem(name, value)) is not None]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def updated(self, **values: Any) -> TrainSpec:
        """This section with `values` set, validated like the YAML; the settings that are not part of the identity
        (excluded from dumps: processes, engine, ray...) are kept."""
        kept = {name: getattr(self, name) for name, field in TrainSpec.model_fields.items() if field.exclude}
        adapter = {name.removeprefix("adapter."): values.pop(name) for name in list(values)
                   if name.startswith("adapter.")}
        if adapter:  # a search's `adapter.r`, `adapter.alpha`...
            assert self.adapter is not None, "a search names adapter fields of a pipeline with an adapter"
            values["adapter"] = {**self.adapter.model_dump(), **adapter}
        return TrainSpec.model_validate({**self.model_dump(), **kept, **values})

    @field_validator("lr_scheduler_type")
    @classmethod
    def _known_scheduler(cls, value: str) -> str:
        names = scheduler_names()
        if value not in names:
            raise ValueError(f"unknown scheduler {value!r}; one of {', '.join(names)}")
        return value
