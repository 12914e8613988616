"""A hyperparameter search inside the fine-tuning flow: the flow asks the study (under the home) for trials, trains
each as the cached train task with the trial's values, `search.parallel` at a time on the flow's task runner, and
tells the study the validation metric each reached. The best trial's model goes on to evaluation and release.

A re-run of the same search reloads the study: its finished trials' models are cache hits, trials a killed run
left running are tried again with the same values, and only the missing trials are asked for. With `search.pruning`,
each trial's training reports to the study at every evaluation and stops when it falls behind; a pruned trial's
model never goes on.
"""

from __future__ import annotations

import time
from typing import Any

from prefect.futures import as_completed
from prefect.logging import get_run_logger

from modelmill.config.runs import ResolvedRun
from modelmill.manifests import ModelManifest, SearchReport, SearchTrial, TokenizedManifest
from modelmill.observe.stages import StageLog
from modelmill.search.pruning import TrialHandle
from modelmill.search.report import important_field, publish_search, search_png
from modelmill.search.runners import trial_runner
from modelmill.search.study import (
    FAILURE,
    SearchFailed,
    distributions,
    finished,
    journal,
    objective_value,
    open_study,
    release_abandoned,
    study_name,
    trial_train,
)
from modelmill.storage.cache_probe import CacheProbe, NotCached
from modelmill.storage.home import current_home
from tasks.train import train

STATES = {"Completed": "completed", "Cached": "cached"}
Ended = dict[int, tuple[SearchTrial, ModelManifest | None, str]]  # trial number -> its row, model (None: failed), error


def final_state(future: Any) -> Any:
    """A finished future's own final state (Cached for a cache hit); the API may not have recorded it yet."""
    future.wait()
    return future.state


def train_trials(
    run: ResolvedRun, stage: StageLog, tokens: TokenizedManifest, trials: list[tuple[int, dict[str, Any]]],
    options: dict[str, Any] | None, runner: Any = None, handle: Any = lambda number: None,
) -> Ended:
    """Train `trials` (number, values) at once on `runner` (None: the flow's own task runner), each with its
    pruning `handle(number)`; each one's trial row, model (None when it failed) and error."""
    search = run.spec.search
    assert search is not None
    started = time.perf_counter()
    futures = {}
    for number, values in trials:
        spec = trial_train(run.spec.train, values, search)
        future = stage.submit(train, tokens, run.spec.model, spec, f"{run.pipeline} trial {number}", handle(number),
                              options={**(options or {}), "task_run_name": f"{stage.prefix}train trial {number}"},
                              runner=runner)
        futures[future] = (number, values)
    ended: Ended = {}
    for future in as_completed(list(futures)):
        number, values = futures[future]
        seconds = round(time.perf_counter() - started, 1)
        state = final_state(future)
        stage.states[f"{stage.prefix}train trial {number}"] = state.name
        try:
            model = stage.collect(future.result())
        except Exception as exc:  # noqa: BLE001 - a failed trial is one row of the search, not the end of the run
            row = SearchTrial(number=number, values=values, state="failed", seconds=seconds)
            ended[number] = (row, None, f"{type(exc).__name__}: {exc}".splitlines()[0])
            continue
        value = objective_value(model, search.objective.metric, search.objective.direction)
        state_name = "pruned" if model.pruned_at else STATES.get(state.name, "completed")
        row = SearchTrial(number=number, values=values, objective=value, state=state_name,
                          seconds=0.0 if state.name == "Cached" else seconds, model_path=model.path,
                          evaluations=sum(1 for entry in model.history if "eval_loss" in entry))
        ended[number] = (row, model, "")
    return ended


def reuse_finished(study: Any, parallel: int, batch: Any) -> Ended:
    """The trials an earlier run finished: failed ones as they were, completed and pruned ones trained again
    (cache hits)."""
    from optuna.trial import TrialState

    earlier = finished(study)
    ended: Ended = {trial.number: (SearchTrial(number=trial.number, values=dict(trial.params), state="failed"),
                                   None, "") for trial in earlier if trial.state == TrialState.FAIL}
    reused = [(trial.number, dict(trial.params)) for trial in earlier if trial.state != TrialState.FAIL]
    for start in range(0, len(reused), parallel):
        ended.update(train_once(reused[start:start + parallel], ended, batch))
    return ended


def ask_and_tell(study: Any, trials: int, parallel: int, again: list[dict[str, Any]], space: dict[str, Any],
                 batch: Any, known: Ended) -> Ended:
    """Ask for trials, `parallel` at a time (the values a killed run left untried first), train them (values a
    trial of `known` or of this search tried already are not trained again), tell each its objective (or that it
    failed), until `trials` have finished."""
    from optuna.trial import TrialState

    ended: Ended = {}
    while (done := len(finished(study))) < trials:
        asked = []
        for _ in range(min(parallel, trials - done)):
            if again:
                study.enqueue_trial(again.pop(0))
            asked.append(study.ask(space))
        ended.update(train_once([(trial.number, dict(trial.params)) for trial in asked], {**known, **ended}, batch))
        for trial in asked:
            row, model, error = ended[trial.number]
            if model is None:
                trial.set_user_attr(FAILURE, error)
                study.tell(trial, state=TrialState.FAIL)
                get_run_logger().warning("Search trial %d failed: %s", trial.number, error)
            elif row.state == "pruned":
                study.tell(trial, state=TrialState.PRUNED)
            else:
                study.tell(trial, row.objective)
    return ended


def split_repeats(asked: list[tuple[int, dict[str, Any]]], known: Ended
                  ) -> tuple[list[tuple[int, dict[str, Any]]], dict[int, int]]:
    """The trials to train, and those whose values a trial in `known` (with a model) or an earlier one of `asked`
    has already: trial number -> that trial's number. A sampler may draw the same values twice (a small categorical
    or stepped space); training them again would spend the time for the same model."""
    seen = {repr(sorted(row.values.items())): number for number, (row, model, _) in known.items() if model is not None}
    fresh, repeats = [], {}
    for number, values in asked:
        key = repr(sorted(values.items()))
        if key in seen:
            repeats[number] = seen[key]
        else:
            seen[key] = number
            fresh.append((number, values))
    return fresh, repeats


def train_once(asked: list[tuple[int, dict[str, Any]]], known: Ended, batch: Any) -> Ended:
    """`batch(asked)`, each set of values trained once: a repeat takes the outcome of the trial it repeats."""
    fresh, repeats = split_repeats(asked, known)
    ended = batch(fresh) if fresh else {}
    return {**ended, **{number: repeated({**known, **ended}[first], number) for number, first in repeats.items()}}


def repeated(first: tuple[SearchTrial, ModelManifest | None, str], number: int
             ) -> tuple[SearchTrial, ModelManifest | None, str]:
    """Trial `number`'s outcome as that of the trial with the same values: its objective and model, nothing trained
    (shown as cached)."""
    row, model, error = first
    state = "cached" if row.state == "completed" else row.state
    return row.model_copy(update={"number": number, "state": state, "seconds": 0.0}), model, error


def search_best(
    run: ResolvedRun, stage: StageLog | CacheProbe, tokens: TokenizedManifest, options: dict[str, Any] | None = None
) -> tuple[ModelManifest, SearchReport]:
    """Run the pipeline's search; return the best trial's model and the report of every trial."""
    if isinstance(stage, CacheProbe):  # the study is asked and told by a flow run only
        raise NotCached("a search runs its trials through Prefect")
    search = run.spec.search
    assert search is not None
    name = study_name(run.pipeline, search, run.spec.train, tokens)
    folder = current_home().local / "search" / run.pipeline
    study = open_study(folder, name, search)  # beside its figure
    again = release_abandoned(study)
    with trial_runner(search) as runner:
        def handle(number: int) -> TrialHandle | None:
            return None if search.pruning is None else TrialHandle(
                journal=journal(folder, name), study=name, number=number, metric=search.objective.metric,
                pruning=search.pruning)

        def batch(trials: list[tuple[int, dict[str, Any]]]) -> Ended:
            return train_trials(run, stage, tokens, trials, options, runner, handle)

        ended = reuse_finished(study, search.parallel, batch)
        if ended:
            get_run_logger().info("Search %s: %d finished trial(s) reused, %d to go", name, len(ended),
                                  max(0, search.trials - len(ended)))
        ended.update(ask_and_tell(study, search.trials, search.parallel, again, distributions(search.space), batch,
                                  ended))
    rows = {number: row for number, (row, _, _) in ended.items()}
    models = {number: model for number, (row, model, _) in ended.items() if model is not None and row.state != "pruned"}
    if not models:
        raise SearchFailed(f"search: none of the {len(rows)} trial(s) completed; see the failed train tasks")
    sign = -1 if search.objective.direction == "maximize" else 1
    best = min(models, key=lambda number: (sign * (rows[number].objective or 0.0), number))
    report = SearchReport(metric=search.objective.metric, direction=search.objective.direction,
                          trials=[rows[number] for number in sorted(rows)], best=best,
                          important=important_field(study, sorted(search.space)))
    report = report.model_copy(update={"figure": search_png(report, folder / f"{name}.png")})
    publish_search(run.pipeline, report)
    get_run_logger().info("Search %s: trial %d is best (validation %s %.4f) of %d", name, best, report.metric,
                          rows[best].objective, len(rows))
    return models[best], report
