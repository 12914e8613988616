"""Small, serialisable results that tasks pass to each other (never the data or the model itself)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from modelmill.config import AdapterSpec, ModelSpec
from modelmill.hub.promotion import Promotion


class DataManifest(BaseModel):
    """A `DatasetDict` saved to disk with its columns as read, and how its labels map to ids."""

    key: str
    path: Path
    fingerprint: str
    labels: list[str]
    label_ids: dict[str, int] = Field(description="Raw label value (as a string) -> label id.")
    text_column: str
    label_column: str
    num_rows: dict[str, int]
    source: str
    task: str = Field("text-classification", description="The pipeline's task type, which reads the columns.")
    dropped: dict[str, int] = Field(default_factory=dict, description="Rows dropped per split because they repeat "
                                    "a text of an earlier split (validation.checks.overlap.action: drop).")


class RuleResult(BaseModel):
    """One rule on one split: passed or not, with what GX observed and a few offending rows."""

    split: str
    expectation: str
    rule: str = Field(description="The rule with its arguments, as written: expect_x(column=text, min_value=3).")
    source: str = Field("", description="Where the rule is written: validation.expectations[0] or file: rules[1].")
    severity: str = "critical"
    column: str | None
    success: bool = False
    observed: Any = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    sample: list[Any] = Field(default_factory=list, description="Offending rows, each with its `row` number.")
    error: str | None = Field(None, description="Why GX could not evaluate the rule (e.g. a missing column).")


class ValidationReport(BaseModel):
    """Every rule result; `failures` (critical) stop the flow, `warnings` are reported."""

    checked: int
    results: list[RuleResult] = Field(default_factory=list)
    data_docs: Path | None = None

    @property
    def failures(self) -> list[RuleResult]:
        return [r for r in self.results if not r.success and r.severity == "critical"]

    @property
    def warnings(self) -> list[RuleResult]:
        return [r for r in self.results if not r.success and r.severity != "critical"]

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        """'12 rule checks: 11 passed, 1 warning, 0 failed'."""
        ok = sum(1 for r in self.results if r.success)
        return f"{self.checked} rule checks: {ok} passed, {len(self.warnings)} warning(s), {len(self.failures)} failed"


class TokenizedManifest(BaseModel):
    """Tokenized splits on disk (unpadded) and the tokenizer that made them."""

    key: str
    path: Path
    tokenizer: str
    labels: list[str]
    max_length: int = 512
    task: str = "text-classification"
    chat_template: str | None = Field(None, description="text-generation: the chat template the rows were rendered "
                                      "with; the trained model's tokenizer is saved with exactly this one.")

    @property
    def template_hash(self) -> str | None:
        """sha256 of the chat template (first 12 hex digits), as the run summary and the card show it."""
        import hashlib

        return hashlib.sha256(self.chat_template.encode()).hexdigest()[:12] if self.chat_template else None


UNKNOWN_LOSS = "unknown (no logging step was reached: train.logging_steps is more than the steps trained)"


class StageCost(BaseModel):
    """What one stage's work cost in one run."""

    wall_seconds: float = 0.0
    cpu_seconds: float = Field(0.0, description="User + system CPU time of this process and of its finished children.")
    gpu_seconds: float = Field(0.0, description="Wall seconds times the GPUs the stage used (0 on CPU).")
    peak_memory_mb: float = Field(0.0, description="Peak resident memory of the run's process during the stage.")

    @property
    def device_seconds(self) -> float:
        """What a price per device-hour applies to: GPU seconds where GPUs were used, else the machine's wall time."""
        return self.gpu_seconds or self.wall_seconds

    def plus(self, other: StageCost) -> StageCost:
        return StageCost(wall_seconds=self.wall_seconds + other.wall_seconds,
                         cpu_seconds=self.cpu_seconds + other.cpu_seconds,
                         gpu_seconds=self.gpu_seconds + other.gpu_seconds,
                         peak_memory_mb=max(self.peak_memory_mb, other.peak_memory_mb))


def price_of(costs: Any, price_per_device_hour: float | None) -> float | None:
    """Device-hours of `costs` (StageCost values) times the price per device-hour (None without a price)."""
    if price_per_device_hour is None:
        return None
    return sum(cost.device_seconds for cost in costs) / 3600 * price_per_device_hour


class ModelManifest(BaseModel):
    """A fine-tuned model and tokenizer saved with `save_pretrained`."""

    key: str
    path: Path
    base_model: str
    started_from: ModelSpec | None = Field(None, description="The model spec training started from (for a "
                                           "from_pipeline model: the adapted model's place under the home).")
    labels: list[str]
    device: str
    training_arguments: dict[str, Any]
    train_loss: float | None = Field(None, description="Mean logged train loss; None when no logging step was reached.")
    best_eval_loss: float | None = None
    resumed_from: str | None = Field(None, description="Checkpoint a retried run resumed from.")
    settings: str = Field("", description="Where and how it trained: device, processes, precision, optimizer...")
    train_seconds: float | None = Field(None, description="The training loop's wall time (evaluation included).")
    train_samples_per_second: float | None = Field(None, description="Training examples processed per second.")
    history: list[dict[str, float]] = Field(
        default_factory=list, description="Per evaluation and logging step: epoch, loss, eval_loss, eval_accuracy."
    )
    pruned_at: int | None = Field(None, description="The evaluation (1: the first) at which its search pruned it.")
    chat_template: str | None = Field(None, description="text-generation: sha256 (12 hex digits) of the chat "
                                      "template it was trained with, which its saved tokenizer carries.")
    adapter: AdapterSpec | None = Field(None, description="The LoRA adapter trained on the frozen base: `path` "
                                        "holds the adapter, not a whole model.")
    trainable_parameters: int | None = Field(None, description="Parameters the training updated.")
    parameters: int | None = Field(None, description="Parameters of the trained model (base and adapter).")
    train_cost: StageCost | None = Field(None, description="What making it cost: the train stage's work.")

    @property
    def seed(self) -> int:
        """The seed it trained with: its new weights (head, or a seeded base) are drawn again from it."""
        return int(self.training_arguments.get("seed", 0))

    @property
    def mean_loss(self) -> str:
        """The mean train loss as people read it: a number, or why there is none (never a made-up zero)."""
        return f"{self.train_loss:.4f}" if self.train_loss is not None else UNKNOWN_LOSS


TEST_SCOPE = "test"  # where the averaged and per-class thresholds are measured
RETENTION_SCOPE = "retention set"  # fill-mask: where the rise of the masked-LM loss on general text is measured


class MetricCheck(BaseModel):
    """One metric against its threshold, where it was measured (`scope`): test, a set, a slice, a baseline."""

    metric: str
    value: float
    min: float | None = None
    max: float | None = None
    above: float | None = Field(None, description="Must be strictly above this (beating a baseline).")
    below: float | None = Field(None, description="Must be strictly below this (beating a baseline on a loss).")
    scope: str = TEST_SCOPE

    @property
    def bounds(self) -> str:
        parts = [f"> {self.above:.4f}" if self.above is not None else "",
                 f"< {self.below:.4f}" if self.below is not None else "",
                 f">= {self.min}" if self.min is not None else "", f"<= {self.max}" if self.max is not None else ""]
        return " and ".join(part for part in parts if part)

    @property
    def passed(self) -> bool:
        return (
            (self.above is None or self.value > self.above + 1e-9)
            and (self.below is None or self.value < self.below - 1e-9)
            and (self.min is None or self.value >= self.min)
            and (self.max is None or self.value <= self.max)
        )


class Mistake(BaseModel):
    """A test example the model got wrong, with how sure it was."""

    row: int = Field(description="1-based row number in the test split.")
    text: str
    label: str
    predicted: str
    probability: float = Field(description="The model's probability of the class it predicted.")


class Scores(BaseModel):
    """One set of predictions scored: the declared metrics plus macro F1, per class, and the confusion matrix."""

    name: str
    num_examples: int
    metrics: dict[str, float]
    per_class: dict[str, float] = Field(default_factory=dict, description="precision/recall/f1[label].")
    support: dict[str, int] = Field(default_factory=dict)
    confusion: list[list[int]] = Field(default_factory=list, description="Rows: true label; columns: predicted.")
    worst: list[Mistake] = Field(default_factory=list, description="Generated answers furthest from their "
                                 "reference (text-generation), the reference as `label`, token F1 as `probability`.")


class SliceScores(BaseModel):
    """The test metrics of one slice (a column value or a text-length bucket)."""

    slicing: str
    value: str
    num_examples: int
    metrics: dict[str, float]
    gated: bool = Field(description="False when the slice has fewer than `min_examples` rows.")


class BaselineScores(BaseModel):
    """A baseline's scores on the test split."""

    name: str
    description: str
    scores: Scores


class DecisionCutoff(BaseModel):
    """The probability cut-off of a binary model's positive class, picked on validation."""

    label: str
    cutoff: float
    rule: str = Field(description="What it was picked for, e.g. 'precision[spam] >= 0.95'.")
    validation_value: float
    reached: bool


class EvaluationReport(BaseModel):
    """Test-split metrics and everything a reviewer checks them against; `checks` are the gates."""

    key: str
    metrics: dict[str, float]
    checks: list[MetricCheck]
    num_examples: int
    per_class: dict[str, float] = Field(default_factory=dict, description="precision/recall/f1[label].")
    labels: list[str] = Field(default_factory=list)
    support: dict[str, int] = Field(default_factory=dict)
    confusion: list[list[int]] = Field(default_factory=list, description="Rows: true label; columns: predicted.")
    baselines: list[BaselineScores] = Field(default_factory=list)
    fit: list[Scores] = Field(default_factory=list, description="Train sample, validation and test side by side.")
    unseen: Scores | None = Field(
        None, description="Test rows whose text does not occur in train (folded), when some do: leakage-free figures."
    )
    sets: list[Scores] = Field(default_factory=list, description="Extra evaluation sets.")
    slices: list[SliceScores] = Field(default_factory=list)
    decision: DecisionCutoff | None = None
    mistakes: list[Mistake] = Field(
        default_factory=list, description="The most confident test mistakes (test texts: never in the model card)."
    )
    figures: Path | None = Field(None, description="Folder with confusion_matrix.png and training_curve.png.")
    warnings: list[str] = Field(default_factory=list)
    promotion: Promotion | None = Field(None, description="Champion vs challenger, when evaluate.promote is set.")
    retention: list[Scores] = Field(default_factory=list, description="fill-mask: the base model and the adapted "
                                    "one on the retention set of general text.")
    alignment: list[Scores] = Field(default_factory=list, description="preference: the SFT model and the aligned "
                                    "one on the SFT pipeline's test set (what the alignment cost in answers).")
    adaptation: list[Scores] = Field(default_factory=list, description="model.compare_unadapted: the fine-tune of "
                                     "the unadapted model and of the adapted one, on the same test split.")

    @property
    def failures(self) -> list[MetricCheck]:
        return [check for check in self.checks if not check.passed]


class PushResult(BaseModel):
    """Where the model went, or where the dry run left the files it would have uploaded."""

    repo_id: str
    endpoint: str
    dry_run: bool
    folder: Path
    files: list[str]
    commit_url: str | None = None
    commit_oid: str | None = None
    tag: str | None = Field(None, description="The release tag (v1, v2, ...) of the pushed commit.")
    made_commit: bool = Field(False, description="This run made the commit (False: the Hub already held it).")
    made_tag: bool = Field(False, description="This run made the tag (False: the release existed before).")
    outcome: str = Field("", description="What this push did, in one line.")


class SearchTrial(BaseModel):
    """One trial of a hyperparameter search: the values it tried and how it ended."""

    number: int
    values: dict[str, Any]
    objective: float | None = Field(None, description="The validation metric it reached (None: it failed); a "
                                    "pruned trial's is its best before it stopped.")
    state: Literal["completed", "cached", "pruned", "failed"]
    seconds: float = Field(0.0, description="Its train task's own work (a cached trial did none).")
    evaluations: int = Field(0, description="The validation evaluations its training ran (a pruned one: up to the "
                             "one that stopped it).")
    model_path: Path | None = None


class SearchReport(BaseModel):
    """A hyperparameter search: its objective, every trial, and the best one (whose model goes on)."""

    metric: str
    direction: str
    trials: list[SearchTrial]
    best: int = Field(description="The number of the best trial.")
    important: str | None = Field(None, description="The searched field that mattered most to the objective.")
    figure: Path | None = Field(None, description="PNG: the objective against trial, and against `important`.")

    @property
    def best_trial(self) -> SearchTrial:
        return next(trial for trial in self.trials if trial.number == self.best)


class RunSummary(BaseModel):
    """What the flow returns: the evaluation, the model folder and the push outcome."""

    pipeline: str
    run_name: str = ""
    spec_hash: str = ""
    note: str = ""
    stages: dict[str, str] = Field(default_factory=dict, description="Stage -> final state (Completed, Cached).")
    costs: dict[str, StageCost] = Field(
        default_factory=dict, description="Stage -> what its own work cost in this run (a cached stage did none)."
    )
    price_per_device_hour: float | None = Field(None, description="MODELMILL_PRICE when the run ended.")
    data_fingerprint: str = Field("", description="The content fingerprint of the data it trained and was tested on.")
    evaluation: EvaluationReport
    model_path: Path
    train_samples_per_second: float | None = Field(None, description="Of the training that made the model.")
    training: str = Field("", description="Where and how the model trained (device settings as resolved).")
    chat_template: str | None = Field(None, description="sha256 of the chat template the model was trained with.")
    push: PushResult | None = Field(None, description="None when the model was not promoted (nothing pushed).")
    search: SearchReport | None = Field(None, description="The hyperparameter search that chose the model, if any.")

    @property
    def promoted(self) -> bool:
        return self.evaluation.promotion is None or self.evaluation.promotion.promoted

    @property
    def work_seconds(self) -> dict[str, float]:
        """Stage -> wall seconds of its own work in this run."""
        return {stage: cost.wall_seconds for stage, cost in self.costs.items()}

    @property
    def cost(self) -> float | None:
        """The run's price: its stages' device-hours times MODELMILL_PRICE (None without a price)."""
        return price_of(self.costs.values(), self.price_per_device_hour)
