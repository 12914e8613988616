"""A hyperparameter search as a fan-out of cached train tasks: a search killed after one trial resumes with it;
the best trial by the validation metric is the model that goes on; a re-run reuses every trial; trials on two Dask
workers pick the same best trial; a trial behind the others is pruned (trials on Ray: tests/flows/test_on_ray.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelmill.config.search import SearchSpec
from modelmill.search.study import open_study
from modelmill.storage.home import current_home
from tests.conftest import pipeline_dict
from tests.patience import patient

ROOT = Path(__file__).parents[2]

SEARCH = {
    "objective": {"metric": "loss"},
    "trials": 3,
    "sampler": {"seed": 7},
    "space": {"learning_rate": {"log_uniform": [1e-4, 2e-2]}, "warmup_ratio": {"uniform": [0.0, 0.2]}},
}


def searched(tiny_model_dir, review_files, **search: Any) -> dict[str, Any]:
    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["train"]["epochs"] = 1
    spec["search"] = {**SEARCH, **search}
    return spec


def trial_states(states: dict[str, str]) -> dict[str, str]:
    return {name: state for name, state in states.items() if name.startswith("train trial")}


def test_a_killed_search_resumes_with_its_finished_trial_the_best_goes_on_a_rerun_is_cached_and_dask_agrees(
    prefect, run, write_pipelines, tiny_model_dir, review_files
):
    spec = searched(tiny_model_dir, review_files)
    # a search process killed (SIGKILL) once its first trial finished and while its second trains
    killed = kill_after_first_trial(write_pipelines({"tiny": spec}))
    state, states = run(spec)
    summary = state.result()
    report = summary.search
    assert [(trial.number, trial.state) for trial in report.trials] == [(0, "cached"), (2, "completed"),
                                                                        (3, "completed")], "one trial reused"
    assert report.trials[1].values == killed, "the trial the kill interrupted is tried again with its values"
    assert trial_states(states) == {"train trial 0": "Cached", "train trial 2": "Completed",
                                    "train trial 3": "Completed"}
    losses = {trial.number: trial.objective for trial in report.trials}
    assert report.best == min(losses, key=losses.get), "the lowest validation loss wins"
    # the best trial's model is the one evaluated and released
    assert summary.model_path == report.best_trial.model_path
    assert summary.push.folder.exists() and report.figure.is_file()
    card = (summary.push.folder / "README.md").read_text(encoding="utf-8")
    assert "### Hyperparameter search" in card and f"trial {report.best} is best" in card
    assert len({trial.values["learning_rate"] for trial in report.trials}) == 3
    # the summary shows every trial
    from modelmill.observe.reporting import run_summary

    assert f"trial {report.best} is best" in run_summary(summary)

    # a re-run of the same search: every trial is a cache hit, the same best
    state, states = run(spec)
    again = state.result().search
    assert trial_states(states) == {f"train trial {n}": "Cached" for n in (0, 2, 3)}
    assert [trial.state for trial in again.trials] == ["cached"] * 3 and again.best == report.best
    rerun_card = (state.result().push.folder / "README.md").read_text(encoding="utf-8")
    assert rerun_card == card, "the same trials make the same card: a re-run has nothing new to push"

    # the same trials on two Dask workers (a local cluster of 2 processes on 127.0.0.1), trained again: the same
    # objectives within noise, the same best trial
    spec["search"].update(parallel=2, runner="dask")
    state, states = run(spec, force_retrain=True)
    both = state.result().search
    assert trial_states(states) == {f"train trial {n}": "Completed" for n in (0, 2, 3)}
    assert [trial.values for trial in both.trials] == [trial.values for trial in report.trials]
    assert both.best == report.best
    for a, b in zip(report.trials, both.trials, strict=True):
        assert b.objective == pytest.approx(a.objective, abs=1e-3)


def kill_after_first_trial(pipelines: Path) -> dict[str, Any]:
    """Run the search in a process of its own (on the tests' Prefect server), kill it once trial 0 completed and
    trial 1 is running; trial 1's values."""
    from prefect.settings import PREFECT_API_URL

    code = f"from flows.finetune import finetune; finetune(pipeline='tiny', pipelines_file={str(pipelines)!r})"
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    pipeline = yaml.safe_load(pipelines.read_text(encoding="utf-8"))["pipelines"]["tiny"]
    search = SearchSpec.model_validate(pipeline["search"])
    process = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + patient(180)
        while time.monotonic() < deadline and process.poll() is None:
            trials = study_trials(search)
            # trial 1 running with every value drawn (optuna stores them one by one, as they are suggested)
            if [trial.state.name for trial in trials] == ["COMPLETE", "RUNNING"] and set(trials[1].params) == set(
                    search.space):
                process.kill()
                process.wait(timeout=60)
                return dict(trials[1].params)
            time.sleep(0.05)
        raise AssertionError(f"the search never had trial 0 done and trial 1 running: "
                             f"{process.communicate(timeout=60)[1].decode()[-2000:]}")
    finally:
        process.kill()


def study_trials(search: SearchSpec) -> list[Any]:
    """The trials of the pipeline's study (none before the search opened it)."""
    folder = current_home().local / "search" / "tiny"
    if not any(folder.glob("*.journal")):
        return []
    return open_study(folder, only_study("tiny"), search).get_trials(deepcopy=False)


def only_study(pipeline: str) -> str:
    (journal,) = (current_home().local / "search" / pipeline).glob("*.journal")
    return journal.stem


def test_a_trial_behind_the_pack_is_pruned_never_goes_on_and_stays_pruned_when_reused_or_retrained(
    prefect, run, tiny_model_dir, review_files
):
    # 3 evaluations per trial; the seeded sampler tries learning rates 1e-7, then 3e-2: trial 1's first
    # evaluation is worse than trial 0's (pruned there)
    spec = searched(tiny_model_dir, review_files, trials=2, sampler={"name": "random", "seed": 0},
                    pruning={"startup_trials": 1}, space={"learning_rate": {"choice": [3e-2, 1e-7]}})
    spec["train"].update(eval_strategy="steps", eval_steps=2)
    state, states = run(spec)
    report = state.result().search
    assert [(trial.values["learning_rate"], trial.state) for trial in report.trials] == [
        (1e-7, "completed"), (3e-2, "pruned")]
    assert report.best == 0, "a pruned trial never goes on"
    assert state.result().model_path == report.best_trial.model_path
    assert [trial.evaluations for trial in report.trials] == [3, 1], "trial 1 stopped at its first evaluation"
    study = open_study(current_home().local / "search" / "tiny", only_study("tiny"),
                       SearchSpec.model_validate(spec["search"]))
    assert [trial.state.name for trial in study.trials] == ["COMPLETE", "PRUNED"]
    assert [sorted(trial.intermediate_values) for trial in study.trials] == [[1, 2, 3], [1]]

    # a re-run: all cached, the pruned trial still pruned
    state, states = run(spec)
    assert trial_states(states) == {f"train trial {n}": "Cached" for n in range(2)}
    assert [trial.state for trial in state.result().search.trials] == ["cached", "pruned"]
    # trained again (as after the cache was collected): it stops where the study pruned it
    state, states = run(spec, force_retrain=True)
    again = state.result().search
    assert [trial.state for trial in again.trials] == ["completed", "pruned"]
    assert [trial.evaluations for trial in again.trials] == [3, 1]


def test_values_a_sampler_draws_twice_are_trained_once():
    from flows.search import train_once
    from modelmill.manifests import ModelManifest, SearchTrial

    trained: list[int] = []

    def batch(trials):
        trained.extend(number for number, _ in trials)
        return {number: (SearchTrial(number=number, values=values, objective=0.1 * number, state="completed",
                                     seconds=3.0), ModelManifest.model_construct(path=Path(f"m{number}")), "")
                for number, values in trials}

    # given trial 0 finished with lr 1e-3, then trials 1-3 asked at once, 2 and 3 drawing values already tried
    known = batch([(0, {"learning_rate": 1e-3})])
    ended = train_once([(1, {"learning_rate": 3e-3}), (2, {"learning_rate": 1e-3}), (3, {"learning_rate": 3e-3})],
                       known, batch)
    # then only trial 1 trains; each repeat takes the outcome and model of the trial it repeats, shown as cached
    assert trained == [0, 1]
    assert {n: (row.objective, row.state, row.seconds, model.path.name) for n, (row, model, _) in ended.items()} == {
        1: (0.1, "completed", 3.0, "m1"), 2: (0.0, "cached", 0.0, "m0"), 3: (0.1, "cached", 0.0, "m1")}
