"""The Optuna study of a search: stored under the home (a journal file), so a re-run of the same search reloads
its trials; the flow asks for trials and tells their results (Optuna's ask-and-tell), the trainings run as tasks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from modelmill.config.search import Distribution, SearchSpec
from modelmill.config.train import TrainSpec
from modelmill.manifests import ModelManifest
from modelmill.runtime.errors import ModelmillError
from modelmill.storage.artifacts import stable_hash

FAILURE = "error"  # user attribute of a trial that failed on its own (one a killed run left running has none)


class SearchFailed(ModelmillError):
    """No trial of the search produced a model."""


def distributions(space: dict[str, Distribution]) -> dict[str, Any]:
    """The Optuna distribution of each searched field."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    made: dict[str, Any] = {}
    for name, spec in space.items():
        if spec.choice is not None:
            made[name] = CategoricalDistribution(spec.choice)
        else:
            low, high = spec.log_uniform or spec.uniform  # type: ignore[misc]
            made[name] = FloatDistribution(low, high, log=spec.log_uniform is not None)
    return made


def sampler(search: SearchSpec, earlier: int = 0) -> Any:
    """The seeded sampler of a study that holds `earlier` trials: its seed moves on with them, so that a resumed
    search does not draw its first values again."""
    import optuna

    seed = (search.sampler.seed + earlier) % 2**32
    if search.sampler.name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def study_name(pipeline: str, search: SearchSpec, base: TrainSpec, inputs: Any) -> str:
    """One study per search: the pipeline, what the trials train on, the base `train` section and the search
    (less its trial count, parallelism, runner and GPUs, which change neither the trials nor their order)."""
    what = search.model_dump(exclude={"trials", "parallel", "runner", "gpus_per_trial"})
    return f"{pipeline}-{stable_hash('search', inputs, base, what)[:16]}"


def journal(folder: Path, name: str) -> Path:
    """The file that stores the study `name`."""
    return folder / f"{name}.journal"


def open_study(folder: Path, name: str, search: SearchSpec) -> Any:
    """The study `name` in `folder/<name>.journal` (created if new), directed by the objective, sampled from where
    it stands."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(journal(folder, name))))
    study = optuna.create_study(study_name=name, storage=storage, sampler=sampler(search),
                                direction=search.objective.direction, load_if_exists=True)
    study.sampler = sampler(search, len(study.get_trials(deepcopy=False)))
    return study


def release_abandoned(study: Any) -> list[dict[str, Any]]:
    """Trials a killed run left running: told failed (with no error of their own, so they do not count) and their
    values returned, to be tried again."""
    from optuna.trial import TrialState

    again = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
        if trial.state == TrialState.RUNNING:
            study.tell(trial.number, state=TrialState.FAIL)
            again.append(dict(trial.params))
    return again


def finished(study: Any) -> list[Any]:
    """Trials that ended (completed, pruned, or failed for a reason of their own), in order."""
    from optuna.trial import TrialState

    return [trial for trial in study.get_trials(deepcopy=False)
            if trial.state in (TrialState.COMPLETE, TrialState.PRUNED)
            or (trial.state == TrialState.FAIL and FAILURE in trial.user_attrs)]


def objective_value(model: ModelManifest, metric: str, direction: str) -> float:
    """The validation metric of the trial's saved model: the best evaluation of its training (the best checkpoint is
    the one kept, chosen by this metric)."""
    values = [entry[f"eval_{metric}"] for entry in model.history if f"eval_{metric}" in entry]
    values = [value for value in values if not math.isnan(value)]
    if not values:
        raise SearchFailed(f"the trial's training reported no validation {metric}")
    return min(values) if direction == "minimize" else max(values)


def trial_train(base: TrainSpec, values: dict[str, Any], search: SearchSpec) -> TrainSpec:
    """The `train` section of a trial: the base with the trial's values; the objective picks its best checkpoint;
    parallel trials each train in a process of their own with their share of the cores."""
    return base.updated(**values, metric_for_best_model=search.objective.metric, share=search.parallel)
