"""A whole pipeline and the whole `pipelines.yaml`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from modelmill.config.base import (
    PIPELINE_NAME,
    Section,
)
from modelmill.config.data import DataSpec
from modelmill.config.evaluate import EvaluateSpec, unknown_classes
from modelmill.config.model import ModelSpec, TokenizerSpec
from modelmill.config.operations import DeploySpec, NotifySpec, PushSpec, RetrySpec, ScheduleSpec
from modelmill.config.search import SearchSpec
from modelmill.config.train import TrainSpec
from modelmill.config.validation import ValidationSpec
from modelmill.metrics import TASK_METRIC_NAMES

TEXT_CLASSIFICATION = "text-classification"
# per task type besides text classification: its data columns (words or context, tags or answers), the metrics
# evaluate.metrics may name, and the evaluate fields it does not have (refused when declared, never ignored; the
# baselines and the overfitting report are left out unless must_beat is declared, since their defaults apply to every
# pipeline)
TASK_COLUMNS = {"token-classification": ("tokens", "tags"), "question-answering": ("context", "answers")}
TASK_METRICS = {"token-classification": ("accuracy", "precision", "recall", "f1"),
                "question-answering": ("exact_match", "f1")}
NOT_FOR_TASK = {"token-classification": ("sets", "slices", "decision_threshold", "promote"),
                "question-answering": ("sets", "slices", "decision_threshold", "promote", "class_thresholds")}


class PipelineSpec(Section):
    """One fine-tuning pipeline, from data to Hub."""

    description: str = ""
    task: Literal["text-classification", "token-classification", "question-answering"] = Field(
        TEXT_CLASSIFICATION, description="What the model learns: a label per text, a tag per word (NER), or where "
        "a question's answer is in a context (extractive QA).")
    data: DataSpec
    validation: ValidationSpec = Field(default_factory=ValidationSpec)
    model: ModelSpec
    tokenizer: TokenizerSpec = Field(default_factory=TokenizerSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)
    search: SearchSpec | None = Field(None, description="A hyperparameter search over `train` fields; the best trial "
                                      "goes on to evaluation and release.")
    evaluate: EvaluateSpec = Field(default_factory=EvaluateSpec)
    push: PushSpec
    schedule: ScheduleSpec | None = None
    notify: NotifySpec | None = Field(None, description="Overrides the file-level `notify` for this pipeline.")
    retries: RetrySpec = Field(default_factory=RetrySpec)
    deploy: DeploySpec = Field(default_factory=DeploySpec, description="Work pool, image and job variables of "
                               "`modelmill deploy`.")

    @model_validator(mode="before")
    @classmethod
    def _columns_of_the_task(cls, values: Any) -> Any:
        """Each task type's own columns (tokens and tags; context and answers) unless data names others."""
        if isinstance(values, dict) and values.get("task") in TASK_COLUMNS and isinstance(values.get("data"), dict):
            text, label = TASK_COLUMNS[values["task"]]
            values = {**values, "data": {"text_column": text, "label_column": label, **values["data"]}}
        return values

    @model_validator(mode="after")
    def _named_classes_are_labels(self) -> PipelineSpec:
        if self.data.labels is not None:
            names = self.data.labels if self.task == TEXT_CLASSIFICATION else sorted(
                {tag[2:] for tag in self.data.labels if tag[:2] in ("B-", "I-")})
            problems = unknown_classes(self.evaluate, names)
            if problems:
                raise ValueError(f"{problems[0]} (data.labels)")
        return self

    @model_validator(mode="after")
    def _evaluation_the_task_has(self) -> PipelineSpec:
        """A task type's metrics only; text classification's extra evaluations are refused for the others."""
        if self.task == TEXT_CLASSIFICATION:
            borrowed = [name for name in self.evaluate.metrics if name in TASK_METRIC_NAMES]
            if borrowed:
                raise ValueError(f"evaluate.metrics: {borrowed} are not text-classification metrics")
            return self
        declared = self.evaluate.model_fields_set
        refused = [name for name in NOT_FOR_TASK[self.task] if name in declared and getattr(self.evaluate, name)]
        if "baselines" in declared and self.evaluate.baselines.must_beat:
            refused.append("baselines.must_beat")
        if refused:
            raise ValueError(f"evaluate.{refused[0]} is not available for task {self.task}; remove it")
        unknown = [name for name in self.evaluate.metrics if name not in TASK_METRICS[self.task]]
        if unknown:
            raise ValueError(f"evaluate.metrics: {unknown} are not {self.task} metrics (one of "
                             f"{', '.join(TASK_METRICS[self.task])})")
        return self


class PipelinesFile(Section):
    """The whole `pipelines.yaml`."""

    notify: NotifySpec | None = Field(None, description="Default notifications of every pipeline in the file.")
    pipelines: dict[str, PipelineSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _pipelines_inherit_notify(self) -> PipelinesFile:
        if self.notify is None:
            return self
        inherited = {
            name: spec if spec.notify is not None else spec.model_copy(update={"notify": self.notify})
            for name, spec in self.pipelines.items()
        }
        object.__setattr__(self, "pipelines", inherited)
        return self

    @field_validator("pipelines")
    @classmethod
    def _names_are_slugs(cls, value: dict[str, PipelineSpec]) -> dict[str, PipelineSpec]:
        for name in value:
            if not PIPELINE_NAME.match(name):
                raise ValueError(f"pipeline name {name!r} must match {PIPELINE_NAME.pattern}")
        return value
