"""A whole pipeline and the whole `pipelines.yaml`."""

from __future__ import annotations

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


class PipelineSpec(Section):
    """One fine-tuning pipeline, from data to Hub."""

    description: str = ""
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

    @model_validator(mode="after")
    def _named_classes_are_labels(self) -> PipelineSpec:
        if self.data.labels is not None:
            problems = unknown_classes(self.evaluate, self.data.labels)
            if problems:
                raise ValueError(f"{problems[0]} (data.labels)")
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
