"""A whole pipeline and the whole `pipelines.yaml`."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from modelmill.config.base import (
    PIPELINE_NAME,
    Section,
)
from modelmill.config.data import DataSpec
from modelmill.config.evaluate import EvaluateSpec, unknown_classes
from modelmill.config.model import ModelSpec, TokenizerSpec
from modelmill.config.operations import (
    DeploySpec,
    NotifySpec,
    ObserveSpec,
    PushSpec,
    RetrySpec,
    ScheduleSpec,
    TriggerSpec,
)
from modelmill.config.search import SearchSpec
from modelmill.config.train import TrainSpec
from modelmill.config.validation import ValidationSpec
from modelmill.metrics import TASK_METRIC_NAMES, UNBOUNDED_TASK_METRICS
from modelmill.task_types import (
    FILL_MASK,
    PREFERENCE,
    TASK_TYPES,
    TEXT_CLASSIFICATION,
    TEXT_GENERATION,
    TaskName,
    task_type,
)

GENERATIVE_SETTINGS = {  # what only text-generation (and preference tuning, of a chat model) reads: refused
    # elsewhere, never ignored
    "model": ("gguf_file",), "tokenizer": ("chat_template", "too_long"), "train": ("completion_only_loss", "packing"),
}
PREFERENCE_SETTINGS = {"train": ("objective", "beta")}  # what only preference tuning reads


class PipelineSpec(Section):
    """One fine-tuning pipeline, from data to Hub."""

    description: str = Field(
        "", description="One line on what the pipeline makes, shown by `modelmill list` and in the model card."
    )
    task: TaskName = Field(
        TEXT_CLASSIFICATION, description="What the model learns: a label per text, a tag per word (NER), where a "
        "question's answer is in a context (extractive QA), a summary of a text, masked words of in-domain text "
        "(fill-mask, domain adaptation), an assistant's answers (text-generation: instruction tuning), or which of "
        "two answers is preferred (preference: DPO or ORPO after instruction tuning).")
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
    trigger: TriggerSpec | None = Field(None, description="Retrain when the data changes (beside or instead of "
                                        "`schedule`): `modelmill serve` and `deploy` set up its watcher.")
    notify: NotifySpec | None = Field(None, description="Overrides the file-level `notify` for this pipeline.")
    observe: ObserveSpec = Field(default_factory=ObserveSpec)
    retries: RetrySpec = Field(default_factory=RetrySpec)
    deploy: DeploySpec = Field(default_factory=DeploySpec, description="Work pool, image and job variables of "
                               "`modelmill deploy`.")

    @model_validator(mode="before")
    @classmethod
    def _defaults_of_the_task(cls, values: Any) -> Any:
        """The task type's own columns (tokens and tags; context and answers...) unless data names others, its
        own metrics unless evaluate names some, and its own baselines to beat unless evaluate names some."""
        if not isinstance(values, dict) or values.get("task") not in TASK_TYPES:
            return values
        kind = task_type(values["task"])
        if isinstance(values.get("data"), dict):
            text, label = kind.columns
            values = {**values, "data": {"text_column": text, "label_column": label, **values["data"]}}
        evaluate = values.get("evaluate", {})
        if kind.metrics and isinstance(evaluate, dict) and "metrics" not in evaluate:
            evaluate = {**evaluate, "metrics": list(getattr(kind, "default_metrics", kind.metrics))}
        baselines = evaluate.get("baselines", {}) if isinstance(evaluate, dict) else None
        if kind.baselines and isinstance(baselines, dict) and "must_beat" not in baselines:
            evaluate = {**evaluate, "baselines": {**baselines, "must_beat": list(kind.baselines)}}
        return {**values, "evaluate": evaluate} if isinstance(evaluate, dict) else values

    @model_validator(mode="after")
    def _named_classes_are_labels(self) -> PipelineSpec:
        if self.data.labels is not None:
            problems = unknown_classes(self.evaluate, task_type(self.task).class_names(self.data.labels))
            if problems:
                raise ValueError(f"{problems[0]} (data.labels)")
        return self

    @model_validator(mode="after")
    def _evaluation_the_task_has(self) -> PipelineSpec:
        """The task type's metrics only, and only the `evaluate` fields it has (refused when declared: their
        defaults apply to every pipeline, and are left unused)."""
        kind, declared = task_type(self.task), self.evaluate.model_fields_set
        borrowed = TASK_METRIC_NAMES + UNBOUNDED_TASK_METRICS  # other task types' metrics
        allowed = kind.metrics or [name for name in self.evaluate.metrics if name not in borrowed]
        unknown = [name for name in self.evaluate.metrics if name not in allowed]
        if unknown:
            raise ValueError(f"evaluate.metrics: {unknown} are not {self.task} metrics"
                             + (f" (one of {', '.join(kind.metrics)})" if kind.metrics else ""))
        refused = [name for name in kind.not_available if name in declared]
        if refused:
            raise ValueError(f"evaluate.{refused[0]} is not available for task {self.task}; remove it")
        chat = (TEXT_GENERATION, PREFERENCE)
        refusable = [(section, name, TEXT_GENERATION) for section, names in GENERATIVE_SETTINGS.items()
                     for name in names if self.task not in chat]
        refusable += [("train", name, TEXT_GENERATION) for name in ("completion_only_loss", "packing")
                      if self.task == PREFERENCE]
        refusable += [(section, name, PREFERENCE) for section, names in PREFERENCE_SETTINGS.items()
                      for name in names if self.task != PREFERENCE]
        for section, name, owner in refusable:
            if name in getattr(self, section).model_fields_set:
                raise ValueError(f"{section}.{name} is for task {owner}; remove it")
        if self.task not in chat:
            if self.evaluate.generation.stop_strings:
                raise ValueError(f"evaluate.generation.stop_strings is for task {TEXT_GENERATION}; remove it")
        foreign = [name for name in self.evaluate.baselines.must_beat if name not in kind.baselines]
        if foreign and kind.baselines:
            raise ValueError(f"evaluate.baselines.must_beat: '{foreign[0]}' is not a baseline of {self.task} (its "
                             f"baselines: {', '.join(kind.baselines)})")
        return self

    @model_validator(mode="after")
    def _unadapted_twin_trains_alike(self) -> PipelineSpec:
        if self.model.compare_unadapted and self.search is not None:
            raise ValueError("model.compare_unadapted fine-tunes the unadapted model with `train`'s settings, a "
                             "search picks others: remove one")
        return self

    @model_validator(mode="after")
    def _adapter_fits(self) -> PipelineSpec:
        named = [name for name in (self.search.space if self.search else {}) if name.startswith("adapter.")]
        if named and self.train.adapter is None:
            raise ValueError(f"search.space.{named[0]}: the pipeline trains no adapter; add train.adapter")
        if self.train.adapter is not None and self.train.adapter.method == "qlora" and \
                (self.model.from_config or self.model.encoder_decoder):
            raise ValueError("train.adapter.method: qlora quantises pretrained weights as they load; with "
                             + ("model.from_config" if self.model.from_config else "model.encoder_decoder")
                             + " there are none: use method: lora")
        return self

    @model_validator(mode="after")
    def _accuracy_the_training_reports(self) -> PipelineSpec:
        """Checkpoints and trials are chosen by a validation metric the task type's training reports."""
        if task_type(self.task).training_metrics is not None:
            return self
        if self.train.metric_for_best_model == "accuracy":
            raise ValueError(f"train.metric_for_best_model: {self.task} training reports the validation loss only")
        if self.search is not None and self.search.objective.metric == "accuracy":
            raise ValueError(f"search.objective.metric: {self.task} training reports the validation loss only")
        return self


class PipelinesFile(Section):
    """The whole `pipelines.yaml`."""

    notify: NotifySpec | None = Field(None, description="Default notifications of every pipeline in the file.")
    pipelines: dict[str, PipelineSpec] = Field(
        min_length=1, json_schema_extra={"propertyNames": {"pattern": PIPELINE_NAME.pattern}},
    )

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

    @model_validator(mode="after")
    def _chains_end_at_a_pretrained_model(self) -> PipelinesFile:
        """`model.from_pipeline` names another pipeline of this file, a fill-mask one, and chains never loop."""
        for name in self.pipelines:
            seen = [name]
            while (upstream := self.pipelines[seen[-1]].model.from_pipeline) is not None:
                where = f"pipelines.{seen[-1]}.model.from_pipeline"
                if upstream not in self.pipelines:
                    raise ValueError(f"{where}: no pipeline named '{upstream}'; known: {', '.join(self.pipelines)}")
                if upstream in seen:
                    raise ValueError(f"{where}: '{upstream}' loops back ({' -> '.join([*seen, upstream])})")
                wanted = TEXT_GENERATION if self.pipelines[seen[-1]].task == PREFERENCE else FILL_MASK
                if self.pipelines[upstream].task != wanted:
                    raise ValueError(f"{where}: '{upstream}' is a {self.pipelines[upstream].task} pipeline; "
                                     + (f"preference tuning starts from a {TEXT_GENERATION} (SFT) pipeline's model"
                                        if wanted == TEXT_GENERATION else
                                        f"a model starts from a {FILL_MASK} pipeline's domain-adapted model"))
                seen.append(upstream)
        return self

    @field_validator("pipelines")
    @classmethod
    def _names_are_slugs(cls, value: dict[str, PipelineSpec]) -> dict[str, PipelineSpec]:
        for name in value:
            if not PIPELINE_NAME.match(name):
                raise ValueError(f"pipeline name {name!r} must match {PIPELINE_NAME.pattern}")
        return value
