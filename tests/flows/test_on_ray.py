"""Ray on one local cluster (127.0.0.1 only, started once for this module): `train.engine: ray` trains on two
workers as one world with one writer, the same steps as one process, and names a failing worker's error;
`search.runner: ray` runs a search's trials as Ray tasks with the same best trial as threads."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

from modelmill.config import ModelSpec
from modelmill.training.processes import TrainingProcessFailed
from modelmill.training.ray_engine import ray_cluster, train_on_ray
from tests.flows.test_search import searched, trial_states
from tests.tasks.test_train_on_ray import RAY


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local cluster for the module, as `MODELMILL_RAY_ADDRESS=auto` starts it (each stage or search would
    otherwise start and stop its own); Prefect imports Ray first (prefect-ray), as in a worker."""
    from prefect.plugins import load_prefect_collections

    before = os.environ.get("MODELMILL_RAY_ADDRESS")
    os.environ["MODELMILL_RAY_ADDRESS"] = "auto"
    load_prefect_collections()
    try:
        with ray_cluster("auto"):
            yield
    finally:
        os.environ.pop("MODELMILL_RAY_ADDRESS") if before is None else os.environ.__setitem__(
            "MODELMILL_RAY_ADDRESS", before)


@pytest.mark.slow
def test_two_ray_workers_train_as_one_world_on_loopback_with_one_writer(local_ray, tokens, tiny_model_dir,
                                                                        tmp_path):
    from modelmill.training.fine_tune import fine_tune

    model = ModelSpec(name_or_path=str(tiny_model_dir))
    workdir, output = tmp_path / "work", tmp_path / "train" / "key" / "model"
    manifest = train_on_ray(tokens, model, RAY, workdir, output)
    broken = tokens.model_copy(update={"path": tmp_path / "no-tokens-here"})
    with pytest.raises(TrainingProcessFailed) as failed:
        train_on_ray(broken, model, RAY, tmp_path / "work-2", tmp_path / "train" / "key-2" / "model")
    # one writer: one model folder, published once, with rank 0's manifest
    assert [path.name for path in output.parent.iterdir() if not path.name.startswith(".")] == ["model"]
    assert manifest.path == output and (output / "model.safetensors").is_file()
    assert manifest.device.endswith("x 2 Ray workers")
    # the same effective batch as one process: the same optimizer steps, losses on the same scale
    one = fine_tune(tokens, model, RAY, tmp_path / "work-one", tmp_path / "train" / "key-one" / "model")
    assert manifest.history[-1]["step"] == one.history[-1]["step"] == 12
    assert manifest.history[-1]["eval_loss"] == pytest.approx(one.history[-1]["eval_loss"], abs=0.05)
    # a broken input fails with the worker's own error, not Ray's wall of text
    assert re.match(r"Ray training worker [01] of 2 failed: .*no-tokens-here", failed.value.reason)
    assert "Traceback" not in failed.value.reason


@pytest.mark.slow
def test_search_trials_on_a_local_ray_cluster_pick_the_same_best_trial_as_threads(local_ray, prefect, run,
                                                                                  tiny_model_dir, review_files,
                                                                                  monkeypatch):
    from prefect_ray import RayTaskRunner
    spec = searched(tiny_model_dir, review_files, trials=2)
    threads = run(spec)[0].result().search
    spec["search"].update(parallel=2, runner="ray")
    submitted, submit = [], RayTaskRunner.submit
    monkeypatch.setattr(RayTaskRunner, "submit", lambda runner, task, parameters, *args, **kwargs: (
        submitted.append(parameters["title"]) or submit(runner, task, parameters, *args, **kwargs)))
    state, states = run(spec, force_retrain=True)
    ray = state.result().search
    assert submitted == ["tiny trial 0", "tiny trial 1"], "both trials went to Ray"
    assert trial_states(states) == {f"train trial {n}": "Completed" for n in range(2)}
    assert [trial.values for trial in ray.trials] == [trial.values for trial in threads.trials]
    assert ray.best == threads.best
    for a, b in zip(threads.trials, ray.trials, strict=True):
        assert b.objective == pytest.approx(a.objective, abs=1e-3)
