"""Pruning a search's trials at intermediate evaluations (Optuna's report / should_prune): each trial's training
gets a handle on its trial in the study (modelmill.training.pruning reports to it), and the study's pruner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from modelmill.config.search import Pruning


class TrialHandle(BaseModel):
    """Where a trial's training reports: the study's journal and name, the trial, its objective and pruner."""

    journal: Path
    study: str
    number: int
    metric: str
    pruning: Pruning


def pruner(pruning: Pruning) -> Any:
    import optuna

    return optuna.pruners.PercentilePruner(pruning.percentile, n_startup_trials=pruning.startup_trials,
                                           n_warmup_steps=pruning.warmup_evaluations)
