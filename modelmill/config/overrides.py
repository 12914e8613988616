"""Typed per-run overrides: the few knobs a person changes for one run, from the UI form or the CLI."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelmill.config.base import BatchSize, Epochs, LearningRate, MaxSteps, Seed
from modelmill.config.pipeline import PipelineSpec
from modelmill.config.search import MAX_TRIALS
from modelmill.runtime.errors import ConfigError, UsageError

TRAIN_FIELDS = ("epochs", "learning_rate", "batch_size", "max_steps", "seed")
CLI_KEYS = {f"train.{name}": name for name in TRAIN_FIELDS} | {
    "search.trials": "search_trials",
    "force_retrain": "force_retrain",
    "dry_run": "dry_run",
    "note": "note",
}


class RunOverrides(BaseModel):
    """What one run changes; `None` keeps the value of pipelines.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: Epochs | None = None
    learning_rate: LearningRate | None = None
    batch_size: BatchSize | None = None
    max_steps: MaxSteps | None = None
    seed: Seed | None = None
    search_trials: int | None = Field(None, ge=1, le=MAX_TRIALS)
    force_retrain: bool = False
    dry_run: bool = False
    note: str = Field("", max_length=500)

    @property
    def train(self) -> dict[str, Any]:
        """The `train` fields this run sets."""
        return {name: getattr(self, name) for name in TRAIN_FIELDS if getattr(self, name) is not None}

    @property
    def is_experiment(self) -> bool:
        """True when the run's model differs from what pipelines.yaml alone would give."""
        return bool(self.train) or self.force_retrain

    def apply(self, spec: PipelineSpec) -> PipelineSpec:
        """`spec` with the train overrides applied and validated like the YAML (the settings that are not part of
        the identity kept), and the search's trial count."""
        if self.search_trials is not None:
            if spec.search is None:
                raise UsageError("--set search.trials: this pipeline has no `search` section")
            spec = spec.model_copy(update={"search": spec.search.model_copy(update={"trials": self.search_trials})})
        if not self.train:
            return spec
        try:
            train = spec.train.updated(**self.train)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(['train', *map(str, err['loc'])])}: {err['msg']}" for err in exc.errors(include_url=False)
            )
            raise ConfigError(f"run overrides {self.train} are invalid: {problems}") from None
        return spec.model_copy(update={"train": train})


def parse_cli_overrides(assignments: list[str], **flags: Any) -> RunOverrides:
    """`["train.learning_rate=3e-5", ...]` plus flags (force_retrain, dry_run, note) -> RunOverrides."""
    values: dict[str, Any] = {name: value for name, value in flags.items() if value not in (None, False, "")}
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep or key.strip() not in CLI_KEYS:
            raise UsageError(
                f"--set {assignment!r}: expected KEY=VALUE with KEY one of {', '.join(CLI_KEYS)}"
            )
        values[CLI_KEYS[key.strip()]] = raw.strip()
    try:
        return RunOverrides.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"--set {_cli_key(err['loc'][0])}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors(include_url=False)
        )
        raise UsageError(problems) from None


def _cli_key(field: Any) -> str:
    return next((key for key, name in CLI_KEYS.items() if name == field), str(field))
