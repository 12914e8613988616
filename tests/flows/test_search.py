"""A hyperparameter search as a fan-out of cached train tasks: the best trial by the validation metric is the
model that goes on; a re-run reuses every trial; a trial a killed run left running is tried again with its values;
trials on two Dask workers pick the same best trial."""

from __future__ import annotations

from typing import Any

import pytest

from modelmill.config.search import SearchSpec
from modelmill.search.study import distributions, open_study
from modelmill.storage.home import current_home
from tests.conftest import pipeline_dict

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


def test_the_best_trial_goes_on_a_rerun_reuses_every_trial_an_abandoned_one_is_retried_and_dask_agrees(
    prefect, run, tiny_model_dir, review_files
):
    spec = searched(tiny_model_dir, review_files)
    state, states = run(spec)
    summary = state.result()
    report = summary.search
    assert [trial.state for trial in report.trials] == ["completed"] * 3
    assert trial_states(states) == {f"train trial {n}": "Completed" for n in range(3)}
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
    assert trial_states(states) == {f"train trial {n}": "Cached" for n in range(3)}
    assert [trial.state for trial in again.trials] == ["cached"] * 3 and again.best == report.best

    # a killed run left a fourth trial running: the next run with one more trial tries its values again
    search = SearchSpec.model_validate(spec["search"])
    study = open_study(current_home().local / "search" / "tiny", only_study("tiny"), search)
    left = study.ask(distributions(search.space)).params
    state, states = run(spec, search_trials=4)
    final = state.result().search
    assert [(trial.number, trial.state) for trial in final.trials] == [
        (0, "cached"), (1, "cached"), (2, "cached"), (4, "completed")]
    assert final.trials[-1].values == left

    # the same trials on two Dask workers (a local cluster of 2 processes on 127.0.0.1), trained again: the same
    # objectives within noise, the same best trial
    spec["search"].update(parallel=2, runner="dask")
    state, states = run(spec, force_retrain=True)
    both = state.result().search
    assert trial_states(states) == {f"train trial {n}": "Completed" for n in (0, 1, 2, 4)}
    assert [trial.values for trial in both.trials] == [trial.values for trial in final.trials]
    assert both.best == final.best
    for a, b in zip(final.trials, both.trials, strict=True):
        assert b.objective == pytest.approx(a.objective, abs=1e-3)


def only_study(pipeline: str) -> str:
    (journal,) = (current_home().local / "search" / pipeline).glob("*.journal")
    return journal.stem
