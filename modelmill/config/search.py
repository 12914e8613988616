"""The `search` section: a hyperparameter search over `train` fields, each trial a cached train task.

    search:
      objective: {metric: accuracy, direction: maximize}   # on the validation split; the test split never chooses
      trials: 6
      parallel: 2                                          # trials at once
      sampler: {name: tpe, seed: 42}
      pruning: {percentile: 50, startup_trials: 1, warmup_evaluations: 1}   # optional: stop trials behind the pack
      space:
        learning_rate: {log_uniform: [1e-5, 1e-3]}
        epochs: {choice: [2, 3, 4]}
        batch_size: {choice: [16, 32]}
        warmup_ratio: {uniform: [0, 0.2]}
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from modelmill.config.adapter import SEARCHABLE as ADAPTER_FIELDS
from modelmill.config.adapter import AdapterSpec
from modelmill.config.base import Section, Seed
from modelmill.config.train import TrainSpec

MAX_TRIALS = 1_000
MAX_CHOICES = 100
MAX_EVALUATIONS = 100_000
MAX_GPUS_PER_TRIAL = 16
# train fields that say where or how a training runs, not what it learns: never searched
NOT_SEARCHABLE = frozenset({"processes", "engine", "ray", "dataloader_workers", "training_arguments", "share",
                            "metric_for_best_model"})  # the objective's metric picks each trial's best checkpoint
DIRECTIONS = {"loss": "minimize", "accuracy": "maximize"}
REAL_FIELDS = frozenset(name for name, field in TrainSpec.model_fields.items() if isinstance(field.default, float))


class Objective(Section):
    """What a trial is judged by: a metric the train stage computes on the validation split."""

    metric: Literal["loss", "accuracy"] = Field("loss", description="Validation loss or accuracy of the trial's "
                                                "saved (best) checkpoint; it also picks that checkpoint.")
    direction: Literal["minimize", "maximize"] | None = Field(None, description="Default: minimize the loss, "
                                                              "maximize the accuracy.")

    @model_validator(mode="after")
    def _direction_fits(self) -> Objective:
        if self.direction is None:
            object.__setattr__(self, "direction", DIRECTIONS[self.metric])
        return self


class Sampler(Section):
    """How Optuna picks the next values: TPE (default) or at random, seeded."""

    name: Literal["tpe", "random"] = Field("tpe", description="Optuna sampler: tpe (Bayesian) or random.")
    seed: Seed = Field(42, description="Seed of the sampler: the same study proposes the same trials.")


class Pruning(Section):
    """Stop a trial at an evaluation where its objective is worse than `percentile` of the earlier trials' at that
    evaluation (Optuna's PercentilePruner; 50 is its MedianPruner). Evaluations are counted per trial (its first
    is 1), so trials of different batch sizes compare at the same point of their training."""

    percentile: float = Field(50.0, gt=0, lt=100, description="Worse than this percentile of the earlier trials "
                              "at the same evaluation: pruned (50: the median).")
    startup_trials: int = Field(1, ge=0, le=MAX_TRIALS, description="Trials that finish before any is pruned.")
    warmup_evaluations: int = Field(0, ge=0, le=MAX_EVALUATIONS, description="Evaluations of each trial that "
                                    "never prune it.")


class Distribution(Section):
    """One searched field: exactly one of log_uniform, uniform (both [low, high]) or choice (a list of values)."""

    log_uniform: tuple[float, float] | None = Field(
        None, description="[low, high], sampled on a log scale (learning rates)."
    )
    uniform: tuple[float, float] | None = Field(None, description="[low, high], sampled uniformly.")
    choice: list[Any] | None = Field(None, min_length=1, max_length=MAX_CHOICES, description="One of these values.")

    @model_validator(mode="after")
    def _one_kind(self) -> Distribution:
        given = [name for name in ("log_uniform", "uniform", "choice") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of log_uniform, uniform or choice (got {given or 'none'})")
        low_high = self.log_uniform or self.uniform
        if low_high is not None:
            low, high = low_high
            if not low < high:
                raise ValueError(f"[low, high] must have low < high (got [{low}, {high}])")
            if self.log_uniform is not None and low <= 0:
                raise ValueError(f"log_uniform needs low > 0 (got {low})")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in ("log_uniform", "uniform", "choice") if getattr(self, name) is not None)

    def extremes(self) -> list[Any]:
        """The values that bound what this distribution can give: both ends, or every choice."""
        return list(self.choice if self.choice is not None else (self.log_uniform or self.uniform or ()))


def adapter_field(name: str, distribution: Distribution) -> None:
    """A searched `adapter.<field>`: every value it can take valid in `train.adapter`."""
    field = name.removeprefix("adapter.")
    for value in distribution.extremes():
        try:
            AdapterSpec.model_validate({field: value})
        except ValidationError as exc:
            message = exc.errors(include_url=False)[0]["msg"]
            raise ValueError(f"{name}.{distribution.kind}: {value!r} is not a valid train.{name}: {message}") from None
    if distribution.kind != "choice" and not isinstance(AdapterSpec.model_fields[field].default, float):
        raise ValueError(f"{name}.{distribution.kind}: train.{name} is not a real number; use choice")


class SearchSpec(Section):
    """A hyperparameter search: `trials` trainings over `space`; the best by `objective` goes on to evaluation."""

    objective: Objective = Field(default_factory=Objective)
    trials: int = Field(ge=1, le=MAX_TRIALS, description="Trials in all (a re-run reuses the finished ones).")
    parallel: int = Field(1, ge=1, le=64, description="Trials that train at once, each in its own process with "
                          "its share of the cores.")
    sampler: Sampler = Field(default_factory=Sampler)
    runner: Literal["threads", "dask", "ray"] = Field(
        "threads", description="Where trials train: threads of the flow (each parallel trial in its own process), "
        "Dask workers (MODELMILL_DASK_ADDRESS, else a local cluster; extra modelmill[dask]) or Ray tasks "
        "(MODELMILL_RAY_ADDRESS, auto: a local cluster; extra modelmill[ray]).")
    gpus_per_trial: Literal["auto"] | Annotated[int, Field(ge=0, le=MAX_GPUS_PER_TRIAL)] = Field(
        "auto", description="GPUs each trial asks its runner for (ray, dask): auto is 1 when the cluster has GPUs, "
        "else 0. Dask workers must declare a GPU resource (dask worker --resources GPU=1).")
    pruning: Pruning | None = Field(None, description="Stop trials that fall behind at an intermediate evaluation.")
    space: dict[str, Distribution] = Field(min_length=1, description="`train` fields and their distributions.")

    @field_validator("space")
    @classmethod
    def _train_fields_only(cls, space: dict[str, Distribution]) -> dict[str, Distribution]:
        searchable = sorted(set(TrainSpec.model_fields) - NOT_SEARCHABLE) + [f"adapter.{n}" for n in ADAPTER_FIELDS]
        for name, distribution in space.items():
            if name.startswith("adapter.") and name in searchable:
                adapter_field(name, distribution)
                continue
            if name not in searchable:
                raise ValueError(f"'{name}' is not a field of `train` that can be searched (one of "
                                 f"{', '.join(searchable)})")
            for value in distribution.extremes():  # every value the search can take must be valid in `train`
                try:
                    TrainSpec.model_validate({name: value})
                except ValidationError as exc:
                    message = exc.errors(include_url=False)[0]["msg"]
                    raise ValueError(f"{name}.{distribution.kind}: {value!r} is not a valid train.{name}: "
                                     f"{message}") from None
            if distribution.kind != "choice" and name not in REAL_FIELDS:
                raise ValueError(f"{name}.{distribution.kind}: train.{name} is not a real number; use choice")
        return space
