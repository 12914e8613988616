"""Pydantic models of `pipelines.yaml`: one strict model per section.

Relative paths are resolved against the folder of the YAML file (pass
``context={"base_dir": ...}`` to ``model_validate``); defaults live here and nowhere else.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from modelmill.metrics import SHIPPED_METRICS

SPLITS = ("train", "validation", "test")
SEED_RANGE = {"ge": 0, "le": 2**32 - 1}  # what numpy and torch accept
# Upper bounds: a value past them is a typo or an attack (1e30 steps, 9.2e18 epochs, a retry delay of 30 000 years),
# never a plan; each is far above what a fine-tuning run uses.
MAX_EPOCHS = 1_000
MAX_STEPS = 10_000_000
MAX_BATCH = 65_536
MAX_ACCUMULATION = 4_096
MAX_LEARNING_RATE = 10.0
MAX_ROWS = 10_000_000  # rows sampled, shown or counted by a setting
MAX_DELAY_SECONDS = 3_600.0
MAX_TEXT = 10_000  # characters in any text value: names, paths, descriptions
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MULTILINE = frozenset({"description", "commit_message"})  # the only values that may span lines

# The train fields a run may override (the UI form, `--set`): bounded here once, for the YAML and the overrides.
Epochs = Annotated[float, Field(gt=0, le=MAX_EPOCHS)]
LearningRate = Annotated[float, Field(gt=0, le=MAX_LEARNING_RATE)]
BatchSize = Annotated[int, Field(ge=1, le=MAX_BATCH)]
MaxSteps = Annotated[int, Field(ge=-1, le=MAX_STEPS)]
Seed = Annotated[int, Field(**SEED_RANGE)]
# TrainingArguments fields that would write or send outside the run's own folder, or resume someone else's state.
REDIRECTING_ARGUMENTS = frozenset(
    {"output_dir", "logging_dir", "resume_from_checkpoint", "push_to_hub", "hub_model_id", "hub_token",
     "hub_strategy", "hub_private_repo", "hub_always_push", "hub_revision", "report_to"}
)
PER_CLASS_METRICS = ("precision", "recall", "f1")
MACRO_F1 = "macro_f1"  # computed on every evaluated set besides evaluate.metrics: baselines and gaps compare on it
PIPELINE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # it names deployments, artifacts and runs


NUMBER_TEXT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def _accept_numbers_written_as_text(schema: dict[str, Any]) -> None:
    """PyYAML reads `3e-5` as a string, which the models accept: the editor schema must accept it too."""
    for field in schema.get("properties", {}).values():
        for option in [field, *field.get("anyOf", [])]:
            if option.get("type") == "number":
                bounds = {k: option.pop(k) for k in list(option) if k not in ("type", "title", "description", "default")}
                option.pop("type")
                option["anyOf"] = [{"type": "number", **bounds}, {"type": "string", "pattern": NUMBER_TEXT}]


def _is_number(annotation: Any) -> bool:
    """Whether a field holds a number (int or float, optional or constrained), not a boolean."""
    if annotation in (int, float):
        return True
    return any(_is_number(arg) for arg in get_args(annotation) if arg is not type(None))


class Section(BaseModel):
    """Base of every section: unknown keys are errors and specs are immutable."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, json_schema_extra=_accept_numbers_written_as_text,
        str_max_length=MAX_TEXT,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _plain_values(cls, value: Any, info: ValidationInfo) -> Any:
        """`epochs: yes` is YAML for true, which pydantic would take as 1: a number must be written as one. A text
        may not hold control characters (a NUL in a path fails deep inside a library)."""
        if isinstance(value, bool) and info.field_name and _is_number(cls.model_fields[info.field_name].annotation):
            raise ValueError(f"{str(value).lower()} is a boolean; write a number")
        if isinstance(value, str) and CONTROL.search(value):
            raise ValueError("control characters (such as NUL) are not allowed in a value")
        if isinstance(value, str) and "\n" in value and info.field_name not in MULTILINE:
            raise ValueError("a line break is not allowed in this value")
        return value


def _resolve(path: Path | None, info: ValidationInfo) -> Path | None:
    if path is None or path.is_absolute():
        return path
    base = (info.context or {}).get("base_dir")
    return (Path(base) / path).resolve() if base else path


# --------------------------------------------------------------------------- data


class SplitFiles(Section):
    """One file per split."""

    train: Path
    validation: Path
    test: Path

    _resolve_paths = field_validator("train", "validation", "test")(_resolve)


class SplitRatios(Section):
    """How to cut a single file into splits; train gets what is left."""

    validation: float = Field(0.1, gt=0, lt=1)
    test: float = Field(0.1, gt=0, lt=1)
    seed: int = Field(42, **SEED_RANGE)
    stratify: bool = Field(True, description="Keep the label proportions in every split.")
    group_duplicates: bool = Field(
        True,
        description="Keep every copy of a text (case, whitespace and punctuation folded) in one split, so that "
        "no test text is seen in training.",
    )

    @model_validator(mode="after")
    def _leave_room_for_train(self) -> SplitRatios:
        if self.validation + self.test >= 1:
            raise ValueError(
                f"validation ({self.validation}) + test ({self.test}) must be below 1 "
                "so that rows are left for train"
            )
        return self


class HubDataset(Section):
    """A dataset on the Hugging Face Hub (needs a network)."""

    id: str
    config: str | None = None
    revision: str | None = None


class DataSpec(Section):
    """Where the examples come from and which columns hold text and label."""

    files: SplitFiles | None = Field(None, description="One local file per split.")
    file: Path | None = Field(None, description="One local file, cut into splits by `split`.")
    split: SplitRatios | None = None
    hub: HubDataset | None = None
    format: Literal["csv", "json", "parquet"] | None = Field(
        None, description="File format; inferred from the extension when omitted (.csv, .jsonl/.json, .parquet)."
    )
    text_column: str = Field("text", min_length=1)
    label_column: str = Field("label", min_length=1)
    labels: list[str] | None = Field(
        None,
        min_length=2,
        description="Label names in id order. Omitted: the sorted distinct labels of the train split.",
    )
    drop_null_labels: bool = Field(
        False, description="Drop rows whose label is null or empty (counted in the log) instead of failing."
    )

    _resolve_file = field_validator("file")(_resolve)

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        if self.text_column == self.label_column:
            raise ValueError(
                f"text_column and label_column are both '{self.text_column}': the model would be trained on the "
                "answer; name the column that holds the text"
            )
        given = [name for name in ("files", "file", "hub") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of `files`, `file` or `hub` (got {', '.join(given) or 'none'})"
            )
        if self.split is not None and self.file is None:
            raise ValueError("`split` only applies to a single `file`")
        if self.labels is not None and len(set(self.labels)) != len(self.labels):
            raise ValueError(f"`labels` has duplicates: {self.labels}")
        return self

    @property
    def ratios(self) -> SplitRatios:
        """Split ratios for a single `file` (the declared ones or the defaults)."""
        return self.split or SplitRatios()

    def local_files(self) -> list[Path]:
        """The local files this spec reads, in a stable order."""
        if self.files is not None:
            return [self.files.train, self.files.validation, self.files.test]
        return [self.file] if self.file is not None else []


# --------------------------------------------------------------------------- validation


RULE_OPTIONS = ("severity", "meta", "splits")


class ExpectationRule(Section):
    """One Great Expectations rule: its snake_case name, its keyword arguments, and how it counts.

    Written in YAML as a mapping with one `expect_*` key and optional `severity`, `meta` and `splits`:
    ``- expect_column_values_to_not_be_null: {column: text}`` (plus ``severity: warning`` to only report it).
    """

    expectation: str
    kwargs: dict[str, Any] = Field(default_factory=dict)
    severity: Literal["critical", "warning"] = Field(
        "critical", description="critical: a failure stops the flow; warning: reported, the flow goes on."
    )
    meta: dict[str, Any] = Field(default_factory=dict, description="Free-form notes: owner, why, ticket.")
    splits: list[Literal["train", "validation", "test"]] | None = Field(
        None, description="Only these splits (default: validation.splits)."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_one_key_mapping(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"expectation": value}
        if isinstance(value, dict) and "expectation" not in value:
            names = [key for key in value if key not in RULE_OPTIONS]
            if len(names) == 1:
                kwargs = value[names[0]]
                options = {key: value[key] for key in RULE_OPTIONS if key in value}
                return {"expectation": names[0], "kwargs": kwargs if kwargs is not None else {}, **options}
        return value

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        """The spellings the loader accepts (the model itself only describes the last)."""
        name = {"type": "string", "pattern": "^expect_[a-z0-9_]+$"}
        options = {
            "severity": {"enum": ["critical", "warning"]},
            "meta": {"type": "object"},
            "splits": {"type": "array", "items": {"enum": list(SPLITS)}},
        }
        return {
            "title": "ExpectationRule",
            "description": "A Great Expectations rule: `expect_x` alone, `{expect_x: {kwargs}, severity, meta, "
            "splits}`, or `{expectation: expect_x, kwargs: {...}, severity, meta, splits}`.",
            "anyOf": [
                name,
                {
                    "type": "object", "minProperties": 1, "properties": options,
                    "patternProperties": {"^expect_[a-z0-9_]+$": {"type": ["object", "null"]}},
                    "additionalProperties": False,
                },
                {
                    "type": "object", "additionalProperties": False, "required": ["expectation"],
                    "properties": {"expectation": name, "kwargs": {"type": "object"}, **options},
                },
            ],
        }

    @model_validator(mode="after")
    def _is_a_gx_expectation(self) -> ExpectationRule:
        from modelmill.expectations import build_expectation

        build_expectation(self.expectation, self.kwargs)  # raises ValueError with the reason
        return self

    def describe(self) -> str:
        """`expect_x(column=text, min_value=3)`: the rule and its arguments, as a data team wrote them."""
        arguments = ", ".join(f"{key}={value!r}" if isinstance(value, str) and key != "column" else f"{key}={value}"
                              for key, value in self.kwargs.items())
        return f"{self.expectation}({arguments})"


class RuleFile(Section):
    """A rule file owned by a data team (e.g. `expectations/reviews.yaml`): a suite of rules."""

    suite: str | None = Field(None, description="The suite's name (default: the file name).")
    description: str = ""
    rules: list[ExpectationRule] = Field(min_length=1)


class RuleSuite(Section):
    """A rule file a pipeline uses, loaded with the pipelines file (its rules are part of the spec)."""

    file: Path
    name: str
    rules: list[ExpectationRule]

    @model_validator(mode="before")
    @classmethod
    def _load_the_file(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, (str, Path)):
            return value
        from modelmill.spec_file import load_rule_file

        path = _resolve(Path(value), info)
        suite = load_rule_file(path)
        return {"file": path, "name": suite.suite or path.stem, "rules": suite.rules}

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        return {"type": "string", "title": "RuleSuite", "description": "Path of a rule file, relative to this file."}


class Check(Section):
    """A built-in data check: on by default, with the severity its failures carry."""

    enabled: bool = True
    severity: Literal["critical", "warning"] = "warning"


class TextMatchCheck(Check):
    normalized: bool = Field(True, description="Also fold case, whitespace and punctuation before comparing.")


class OverlapCheck(TextMatchCheck):
    """Train texts found again in validation or test: above `max_share` of the split it carries `severity`
    (critical: the test figures would be inflated by what the model memorised), below it a warning."""

    severity: Literal["critical", "warning"] = "critical"
    max_share: float = Field(0.01, ge=0, le=1, description="Share of a split that may repeat train texts.")


class BalanceCheck(Check):
    min_share: float = Field(0.05, ge=0, lt=1, description="Smallest share of a split any class may have.")
    min_examples: int = Field(5, ge=0, le=MAX_ROWS, description="Fewest examples of a class in any split.")


class ShiftCheck(Check):
    max_kl: float = Field(0.1, gt=0, le=100, description="Largest KL divergence of test's label distribution from train's.")


class BuiltinChecks(Section):
    """Checks every pipeline gets, reported like GX rules; switch one off with `enabled: false`."""

    overlap: OverlapCheck = Field(default_factory=OverlapCheck, description="Train texts in validation/test.")
    duplicates: TextMatchCheck = Field(default_factory=TextMatchCheck, description="A text repeated in a split.")
    empty_text: Check = Field(default_factory=lambda: Check(severity="critical"))
    class_balance: BalanceCheck = Field(default_factory=BalanceCheck)
    label_sets: Check = Field(default_factory=lambda: Check(severity="critical"), description="Same labels everywhere.")
    label_shift: ShiftCheck = Field(default_factory=ShiftCheck, description="Test labels distributed like train's.")


class ValidationSpec(Section):
    """Data rules, checked on every split before anything is trained."""

    expectations: list[ExpectationRule] = Field(default_factory=list)
    suites: list[RuleSuite] = Field(
        default_factory=list, description="Rule files (paths relative to this file), beside the inline rules."
    )
    splits: list[Literal["train", "validation", "test"]] = Field(default_factory=lambda: list(SPLITS))
    sample_rows: int = Field(5, ge=0, le=1_000, description="Offending rows shown per failed rule.")
    checks: BuiltinChecks = Field(default_factory=BuiltinChecks)

    def all_rules(self) -> list[tuple[str, ExpectationRule]]:
        """(where it was written, rule) for the inline rules and every suite's."""
        inline = [(f"validation.expectations[{i}]", rule) for i, rule in enumerate(self.expectations)]
        return inline + [
            (f"{suite.file.name}: rules[{i}]", rule) for suite in self.suites for i, rule in enumerate(suite.rules)
        ]


# --------------------------------------------------------------------------- model + tokenizer


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


# --------------------------------------------------------------------------- train


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
    training_arguments: dict[str, Any] = Field(
        default_factory=dict, description="Any other `TrainingArguments` field, passed through as is."
    )

    @model_validator(mode="after")
    def _consistent(self) -> TrainSpec:
        if self.eval_strategy == "steps" and self.eval_steps is None:
            raise ValueError("eval_strategy 'steps' needs `eval_steps`")
        from dataclasses import fields

        from transformers import TrainingArguments

        known = {f.name for f in fields(TrainingArguments)}
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

    @field_validator("lr_scheduler_type")
    @classmethod
    def _known_scheduler(cls, value: str) -> str:
        from transformers import SchedulerType

        names = [kind.value for kind in SchedulerType]
        if value not in names:
            raise ValueError(f"unknown scheduler {value!r}; one of {', '.join(names)}")
        return value


# --------------------------------------------------------------------------- evaluate


class Threshold(Section):
    """Bounds a metric must meet for the model to be pushed."""

    min: float | None = None
    max: float | None = None

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

    metric: str
    label: str | None = Field(None, alias="class", description="Guard this class's metric (precision, recall, f1).")
    tolerance: float = Field(0.0, ge=0, le=1)

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

    file: Path
    format: Literal["csv", "json", "parquet"] | None = Field(None, description="Inferred from the extension.")
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    class_thresholds: ClassThresholds = Field(default_factory=dict, description=CLASS_THRESHOLDS)

    _resolve_file = field_validator("file")(_resolve)


class SliceSpec(Section):
    """Metrics per value of a column, or per text-length bucket, with optional per-slice minimums."""

    column: str | None = Field(None, min_length=1, description="Slice the test split by each value of this column.")
    length_buckets: list[int] | None = Field(
        None, min_length=1, max_length=100, description="Slice by text length in characters at these edges, e.g. [50, 150]."
    )
    min: dict[str, float] = Field(default_factory=dict, description="Lowest value of a metric in every slice.")
    min_examples: int = Field(20, ge=1, le=MAX_ROWS, description="Smaller slices are reported but not gated (too noisy).")

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
    """Baselines scored on the same splits: the majority class and TF-IDF + logistic regression (macro F1)."""

    must_beat: list[Literal["majority", "classical"]] = Field(
        default_factory=lambda: ["majority"],
        description="Baselines the model must beat on macro F1 (both are always reported).",
    )


class OverfittingSpec(Section):
    """Train (a fixed-size sample), validation and test scored side by side; gaps beyond these warn."""

    train_sample: int = Field(1000, ge=1, le=MAX_ROWS, description="Train rows scored (a seeded sample, to stay cheap).")
    max_train_validation_gap: float = Field(0.10, ge=0, le=1, description="On macro F1.")
    max_validation_test_gap: float = Field(0.05, ge=0, le=1, description="On macro F1.")


class DecisionThresholdSpec(Section):
    """Binary tasks: the probability cut-off of `positive`, picked on validation to reach `target`."""

    positive: str = Field(min_length=1, description="The class the cut-off applies to (e.g. spam).")
    metric: Literal["precision", "recall"] = Field(description="Its metric the cut-off must reach on validation.")
    target: float = Field(gt=0, le=1)


class EvaluateSpec(Section):
    """Metrics computed on the test split, the thresholds that gate the push, and the champion comparison."""

    metrics: list[str] = Field(default_factory=lambda: ["accuracy", "f1"], min_length=1)
    average: Literal["macro", "micro", "weighted", "binary"] = Field(
        "macro", description="How precision/recall/f1 average over classes."
    )
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    class_thresholds: ClassThresholds = Field(default_factory=dict, description=CLASS_THRESHOLDS)
    baselines: BaselineSpec = Field(default_factory=BaselineSpec)
    overfitting: OverfittingSpec = Field(default_factory=OverfittingSpec)
    sets: dict[str, EvaluationSet] = Field(default_factory=dict, description="Extra named evaluation sets.")
    slices: list[SliceSpec] = Field(default_factory=list, description="Test-split metrics per slice.")
    decision_threshold: DecisionThresholdSpec | None = None
    promote: PromoteSpec | None = Field(None, description="Compare with the model published at push.repo_id.")
    batch_size: int = Field(64, ge=1, le=MAX_BATCH, description="Batch size for predicting the test split.")
    trust_remote_code: bool = Field(
        False,
        description="Allow metrics other than the shipped ones (a local module folder or a Hub metric id): "
        "loading one runs its Python code.",
    )

    @model_validator(mode="after")
    def _promotion_uses_computed_metrics(self) -> EvaluateSpec:
        if self.promote is None:
            return self
        named = [("promote.metric", self.promote.metric)] + [
            (f"promote.guards[{i}].metric", guard.metric) for i, guard in enumerate(self.promote.guards)
            if guard.label is None
        ]
        for where, metric in named:
            if metric not in self.metrics:
                raise ValueError(f"{where}: '{metric}' is not in evaluate.metrics {self.metrics}")
        return self

    @field_validator("metrics")
    @classmethod
    def _metric_folders_resolve_against_the_file(cls, metrics: list[str], info: ValidationInfo) -> list[str]:
        return [str(_resolve(Path(name), info)) if name.startswith((".", "/")) else name for name in metrics]

    @model_validator(mode="after")
    def _custom_metrics_are_opted_in(self) -> EvaluateSpec:
        custom = [name for name in self.metrics if name not in SHIPPED_METRICS]
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
    if name in SHIPPED_METRICS or name == MACRO_F1:  # the shipped metrics are all in [0, 1]
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


# --------------------------------------------------------------------------- push, schedule, retries


class PushSpec(Section):
    """Where the model goes on a Hugging Face Hub (or a Hub-compatible server)."""

    repo_id: str = Field(description="'<namespace>/<name>' on the Hub.")
    endpoint: str = Field("https://huggingface.co", description="An http(s) URL of a Hub-compatible server.")
    private: bool = True
    token_secret_block: str | None = Field(
        None, description="Name of a Prefect Secret block with the token, used when HF_TOKEN is not set."
    )
    commit_message: str = Field("modelmill: fine-tuned model", min_length=1)

    @field_validator("repo_id")
    @classmethod
    def _repo_id_shape(cls, value: str) -> str:
        part = r"[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9_])?"
        if not re.fullmatch(f"{part}/{part}", value) or ".." in value or "--" in value:
            raise ValueError(
                f"{value!r} is not a Hub repo id: write '<namespace>/<name>' with letters, digits, '-', '_' and "
                "'.', each part starting and ending with a letter or digit, without '..' or '--'"
            )
        return value

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL (e.g. https://huggingface.co)")
        return value.rstrip("/")


class ScheduleSpec(Section):
    """When a deployment retrains the model."""

    cron: str
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (an IANA name such as UTC or Europe/Paris)") from None
        return value

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from prefect.client.schemas.schedules import CronSchedule

        try:
            CronSchedule(cron=value)
        except ValueError:
            raise ValueError(f"{value!r} is not a valid cron expression (e.g. '0 3 * * 1')") from None
        return value


class NotifySpec(Section):
    """Who hears about a run: a Prefect notification block and the events that trigger it."""

    block: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]*/[\w.-]+$",
        description="A saved Prefect notification block as '<block type slug>/<block name>', "
        "e.g. 'custom-webhook/ml-oncall' or 'slack-webhook/ml-alerts'.",
    )
    on: list[Literal["failed", "crashed", "promoted", "not_promoted"]] = Field(
        default_factory=lambda: ["failed", "crashed"],
        min_length=1,
        description="failed: a stage raised (bad data, thresholds, errors); crashed: the process died or was "
        "killed; promoted / not_promoted: the champion comparison of evaluate.promote (with its table).",
    )

    @model_validator(mode="before")
    @classmethod
    def _on_written_bare(cls, value: Any) -> Any:
        """YAML 1.1 reads a bare `on:` key as the boolean true; here it can only mean the field `on`."""
        if isinstance(value, dict) and True in value:
            value = {("on" if key is True else key): item for key, item in value.items()}
        return value


class RetrySpec(Section):
    """Retries of transient failures (network, 429, 5xx) for every stage."""

    max_retries: int = Field(2, ge=0, le=10)
    delay_seconds: float = Field(10.0, ge=0, le=MAX_DELAY_SECONDS, description="First delay; doubles on each retry.")
    jitter_factor: float = Field(0.2, ge=0, le=10)


# --------------------------------------------------------------------------- pipeline + file


class PipelineSpec(Section):
    """One fine-tuning pipeline, from data to Hub."""

    description: str = ""
    data: DataSpec
    validation: ValidationSpec = Field(default_factory=ValidationSpec)
    model: ModelSpec
    tokenizer: TokenizerSpec = Field(default_factory=TokenizerSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)
    evaluate: EvaluateSpec = Field(default_factory=EvaluateSpec)
    push: PushSpec
    schedule: ScheduleSpec | None = None
    notify: NotifySpec | None = Field(None, description="Overrides the file-level `notify` for this pipeline.")
    retries: RetrySpec = Field(default_factory=RetrySpec)

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
