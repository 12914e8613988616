"""The `evaluate` section: metrics, gates, baselines, slices, sets and the champion comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from modelmill.config.base import (
    MACRO_F1,
    MAX_BATCH,
    MAX_ROWS,
    PER_CLASS_METRICS,
    DataLocation,
    Section,
    _resolve,
    _resolve_data,
)
from modelmill.metrics import SHIPPED_METRICS, TASK_METRIC_NAMES, UNBOUNDED_TASK_METRICS


class Threshold(Section):
    """Bounds a metric must meet for the model to be pushed."""

    min: float | None = Field(None, description="The metric must be at least this.")
    max: float | None = Field(None, description="The metric must be at most this.")

    @model_validator(mode="after")
    def _some_bound(self) -> Threshold:
        if self.min is None and self.max is None:
            raise ValueError("give `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class Guard(Section):
    """A metric (or one class's precision/recall/f1) that must not drop below the champion's by more than
    `tolerance`."""

    metric: str = Field(description="The metric the new model may not lose on this set.")
    label: str | None = Field(None, alias="class", description="Guard this class's metric (precision, recall, f1).")
    tolerance: float = Field(0.0, ge=0, le=1, description="How much it may lose before promotion is refused.")

    model_config = ConfigDict(**Section.model_config, populate_by_name=True)

    @model_validator(mode="after")
    def _per_class_metrics(self) -> Guard:
        if self.label is not None and self.metric not in PER_CLASS_METRICS:
            raise ValueError(f"a class guard needs one of {list(PER_CLASS_METRICS)}, not '{self.metric}'")
        return self

    @property
    def name(self) -> str:
        return f"{self.metric}[{self.label}]" if self.label is not None else self.metric


class PromoteSpec(Section):
    """Champion vs challenger: the published model is scored on the same test split, and replaced only if the
    new one is better by `min_improvement` on `metric` and no guard regresses past its tolerance."""

    metric: str = Field("f1", description="The metric that decides (one of evaluate.metrics).")
    min_improvement: float = Field(0.0, ge=-1, le=1, description="Required gain over the champion on `metric`.")
    guards: list[Guard] = Field(default_factory=list)
    on_label_change: Literal["refuse", "promote"] = Field(
        "refuse",
        description="A published model with another label set cannot be compared: refuse (default) or promote.",
    )


ClassThresholds = dict[str, dict[Literal["precision", "recall", "f1"], Threshold]]


CLASS_THRESHOLDS = "Per class name: bounds on its precision, recall or f1, e.g. {spam: {recall: {min: 0.9}}}."


class EvaluationSet(Section):
    """An extra, named evaluation set (e.g. a frozen regression set) with the data's columns and its own gates."""

    file: DataLocation = Field(description="The set's file, in the columns of the test split.")
    format: Literal["csv", "json", "parquet"] | None = Field(None, description="Inferred from the extension.")
    thresholds: dict[str, Threshold] = Field(default_factory=dict, description="Bounds a metric must meet on this set.")
    class_thresholds: ClassThresholds = Field(default_factory=dict, description=CLASS_THRESHOLDS)
    guard: Guard | None = Field(None, description="With evaluate.promote: the published model is scored on this set "
                                "too, and the new one is not promoted when this metric drops below the published "
                                "model's by more than `tolerance` on it (e.g. forgetting old data).")

    _resolve_file = field_validator("file")(_resolve_data)


class RetentionSpec(Section):
    """fill-mask: general text (data.text_column) the adapted model should not forget: the base model's and the
    adapted one's masked-LM loss on it are reported, and `max_increase` bounds how much the loss may rise."""

    file: DataLocation = Field(description="Text of the original domain the adapted model must still predict.")
    format: Literal["csv", "json", "parquet"] | None = Field(None, description="Inferred from the extension.")
    max_increase: float | None = Field(None, ge=0, le=100, description="The most the masked-LM loss (nats per "
                                       "masked token) may rise from the base model's; above it the run fails.")

    _resolve_file = field_validator("file")(_resolve_data)


class SliceSpec(Section):
    """Metrics per value of a column, or per text-length bucket, with optional per-slice minimums."""

    column: str | None = Field(None, min_length=1, description="Slice the test split by each value of this column.")
    length_buckets: list[int] | None = Field(
        None, min_length=1, max_length=100, description="Slice by text length in characters at these edges, e.g. [50, 150]."
    )
    min: dict[str, float] = Field(default_factory=dict, description="Lowest value of a metric in every slice.")
    min_examples: int = Field(
        20, ge=1, le=MAX_ROWS, description="Smaller slices are reported but not gated (too noisy)."
    )

    @model_validator(mode="after")
    def _one_way_to_slice(self) -> SliceSpec:
        if (self.column is None) == (self.length_buckets is None):
            raise ValueError("give exactly one of `column` or `length_buckets`")
        edges = self.length_buckets or []
        if any(b <= a for a, b in zip(edges, edges[1:])) or any(not 0 < edge <= MAX_ROWS for edge in edges):
            raise ValueError(f"length_buckets {edges} must be increasing, each in 1..{MAX_ROWS}")
        return self

    @property
    def title(self) -> str:
        return self.column if self.column is not None else "text length"


class BaselineSpec(Section):
    """Cheap models scored on the same test split: for text classification the majority class and TF-IDF + logistic
    regression (on macro F1); for summarization and fill-mask the untuned model the fine-tune started from (on the
    first of evaluate.metrics); for preference the model it started from (on the reward margin)."""

    must_beat: list[Literal["majority", "classical", "untuned", "reference"]] = Field(
        default_factory=lambda: ["majority", "classical"],
        description="Baselines the model must beat (all of the task type's are always reported); the default is all "
        "of them: [majority, classical] for text-classification, [untuned] for summarization and fill-mask, "
        "[reference] (the model preference tuning started from, on the reward margin) for preference. A "
        "fine-tune that loses to one is not worth shipping: leave one out only to accept that knowingly.",
    )


class OverfittingSpec(Section):
    """Train (a fixed-size sample), validation and test scored side by side; gaps beyond these warn."""

    train_sample: int = Field(
        1000, ge=1, le=MAX_ROWS, description="Train rows scored (a seeded sample, to stay cheap)."
    )
    max_train_validation_gap: float = Field(0.10, ge=0, le=1, description="On macro F1.")
    max_validation_test_gap: float = Field(0.05, ge=0, le=1, description="On macro F1.")


class DecisionThresholdSpec(Section):
    """Binary tasks: the probability cut-off of `positive`, picked on validation to reach `target`."""

    positive: str = Field(min_length=1, description="The class the cut-off applies to (e.g. spam).")
    metric: Literal["precision", "recall"] = Field(description="Its metric the cut-off must reach on validation.")
    target: float = Field(gt=0, le=1, description="The value the metric must reach.")


class GenerationSpec(Section):
    """summarization and text-generation: how the test summaries or answers are generated (greedy by default)."""

    max_new_tokens: int = Field(64, ge=1, le=4096, description="The longest summary or answer generated, in tokens.")
    num_beams: int = Field(1, ge=1, le=64, description="Beam search width (1: greedy).")
    do_sample: bool = Field(False, description="Sample instead of picking the likeliest token (seeded by "
                            "train.seed); false: the same model always gives the same answers.")
    temperature: float = Field(1.0, gt=0, le=10, description="With do_sample: below 1 sharper, above 1 flatter.")
    top_p: float = Field(1.0, gt=0, le=1, description="With do_sample: nucleus sampling's probability mass.")
    stop_strings: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, max_length=16, description="text-generation: an answer ends at the first of these.")

    def options(self) -> dict[str, Any]:
        """The keyword arguments of `generate`."""
        sampling = {"temperature": self.temperature, "top_p": self.top_p} if self.do_sample else {}
        return {"max_new_tokens": self.max_new_tokens, "num_beams": self.num_beams, "do_sample": self.do_sample,
                **sampling}


class EvaluateSpec(Section):
    """Metrics computed on the test split, the thresholds that gate the push, and the champion comparison."""

    metrics: list[str] = Field(
        default_factory=lambda: ["accuracy", "f1"], min_length=1,
        description="Metrics computed on the test split (the first is the main one).",
    )
    average: Literal["macro", "micro", "weighted", "binary"] = Field(
        "macro", description="How precision/recall/f1 average over classes."
    )
    thresholds: dict[str, Threshold] = Field(
        default_factory=dict, description="Bounds a metric must meet on the test split for the model to be pushed."
    )
    class_thresholds: ClassThresholds = Field(default_factory=dict, description=CLASS_THRESHOLDS)
    baselines: BaselineSpec = Field(default_factory=BaselineSpec)
    overfitting: OverfittingSpec = Field(default_factory=OverfittingSpec)
    sets: dict[str, EvaluationSet] = Field(default_factory=dict, description="Extra named evaluation sets.")
    slices: list[SliceSpec] = Field(default_factory=list, description="Test-split metrics per slice.")
    decision_threshold: DecisionThresholdSpec | None = None
    promote: PromoteSpec | None = Field(None, description="Compare with the model published at push.repo_id.")
    retention: RetentionSpec | None = Field(None, description="fill-mask: general text whose masked-LM loss is "
                                            "measured before and after the adaptation (forgetting).")
    batch_size: int = Field(64, ge=1, le=MAX_BATCH, description="Batch size for predicting the test split.")
    generation: GenerationSpec = Field(default_factory=GenerationSpec, description="summarization and "
                                       "text-generation: how test summaries or answers are generated.")
    json_schema: Path | None = Field(None, description="text-generation: a JSON Schema file (relative to this YAML); "
                                     "`json_valid` is then the share of answers that parse as JSON and validate "
                                     "against it (without it: that parse as JSON).")
    trust_remote_code: bool = Field(
        False,
        description="Allow metrics other than the shipped ones (a local module folder or a Hub metric id): "
        "loading one runs its Python code.",
    )

    @model_validator(mode="after")
    def _promotion_uses_computed_metrics(self) -> EvaluateSpec:
        if self.promote is None:
            guarded = [name for name, extra in self.sets.items() if extra.guard is not None]
            if guarded:
                raise ValueError(f"sets.{guarded[0]}.guard: compares with the published model; set evaluate.promote")
            return self
        named = [("promote.metric", self.promote.metric)] + [
            (f"promote.guards[{i}].metric", guard.metric) for i, guard in enumerate(self.promote.guards)
            if guard.label is None
        ] + [(f"sets.{name}.guard.metric", extra.guard.metric) for name, extra in self.sets.items()
             if extra.guard is not None and extra.guard.label is None]
        for where, metric in named:
            if metric not in self.metrics:
                raise ValueError(f"{where}: '{metric}' is not in evaluate.metrics {self.metrics}")
        return self

    _schema_file = field_validator("json_schema")(_resolve)

    @field_validator("metrics")
    @classmethod
    def _metric_folders_resolve_against_the_file(cls, metrics: list[str], info: ValidationInfo) -> list[str]:
        return [str(_resolve(Path(name), info)) if name.startswith((".", "/")) else name for name in metrics]

    @model_validator(mode="after")
    def _custom_metrics_are_opted_in(self) -> EvaluateSpec:
        custom = [name for name in self.metrics
                  if name not in SHIPPED_METRICS + TASK_METRIC_NAMES + UNBOUNDED_TASK_METRICS]
        if custom and not self.trust_remote_code:
            raise ValueError(
                f"metrics {custom} are not shipped with modelmill (shipped: {', '.join(SHIPPED_METRICS)}); "
                "loading them runs their Python code: set evaluate.trust_remote_code: true to allow it"
            )
        return self

    @field_validator("thresholds")
    @classmethod
    def _thresholds_name_metrics(cls, thresholds: dict[str, Threshold], info: ValidationInfo) -> dict[str, Threshold]:
        for name, bound in thresholds.items():
            _check_metric_bound(name, name, [bound.min, bound.max], info.data.get("metrics", []))
        return thresholds

    @model_validator(mode="after")
    def _gates_name_computed_metrics(self) -> EvaluateSpec:
        for set_name, evaluation_set in self.sets.items():
            for name, bound in evaluation_set.thresholds.items():
                _check_metric_bound(f"sets.{set_name}.thresholds.{name}", name, [bound.min, bound.max], self.metrics)
        for index, slicing in enumerate(self.slices):
            for name, bound in slicing.min.items():
                _check_metric_bound(f"slices[{index}].min.{name}", name, [bound], self.metrics)
        per_class = [("class_thresholds", self.class_thresholds)] + [
            (f"sets.{name}.class_thresholds", evaluation_set.class_thresholds)
            for name, evaluation_set in self.sets.items()
        ]
        for where, classes in per_class:
            for label, bounds in classes.items():
                for metric, bound in bounds.items():
                    _check_metric_bound(f"{where}.{label}.{metric}", metric, [bound.min, bound.max], [metric])
        return self

    def named_classes(self) -> list[tuple[str, str]]:
        """(YAML path under `evaluate`, class name) of every class this section refers to."""
        named = [(f"class_thresholds.{label}", label) for label in self.class_thresholds]
        for name, evaluation_set in self.sets.items():
            named += [(f"sets.{name}.class_thresholds.{label}", label) for label in evaluation_set.class_thresholds]
            if evaluation_set.guard is not None and evaluation_set.guard.label is not None:
                named.append((f"sets.{name}.guard.class", evaluation_set.guard.label))
        if self.decision_threshold is not None:
            named.append(("decision_threshold.positive", self.decision_threshold.positive))
        if self.promote is not None:
            named += [
                (f"promote.guards[{index}].class", guard.label)
                for index, guard in enumerate(self.promote.guards) if guard.label is not None
            ]
        return named

    def local_files(self) -> list[Path]:
        """The extra evaluation sets' files, in a stable order."""
        return [evaluation_set.file for _, evaluation_set in sorted(self.sets.items())]


def _check_metric_bound(where: str, name: str, values: list[float | None], metrics: list[str]) -> None:
    if name not in metrics and name != MACRO_F1:
        raise ValueError(f"{where}: '{name}' is not in metrics {metrics} (nor {MACRO_F1}, always computed)")
    if name in SHIPPED_METRICS + TASK_METRIC_NAMES or name == MACRO_F1:  # the shipped metrics are all in [0, 1]
        for value in values:
            if value is not None and not 0 <= value <= 1:
                raise ValueError(f"{where}: {value} is outside [0, 1] (write 0.85, not 85)")


def unknown_classes(spec: EvaluateSpec, labels: list[str]) -> list[str]:
    """One problem per class named under `evaluate` that is not a label (and per misused binary option)."""
    problems = [
        f"evaluate.{where}: '{label}' is not one of the labels {labels}"
        for where, label in spec.named_classes() if label not in labels
    ]
    if spec.decision_threshold is not None and len(labels) != 2:
        problems.append(f"evaluate.decision_threshold: needs a binary task, the labels are {labels}")
    return problems
