"""Ray on one local cluster (127.0.0.1 only, started once for this module): `train.engine: ray` trains on two
workers as one world with one writer, the same steps as one process (instruction tuning too), and names a
failing worker's error;
`search.runner: ray` runs a search's trials as Ray tasks with the same best trial as threads."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

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
@contextmanager
def listening_addresses() -> Iterator[set[tuple[str, str]]]:
    """(process name, address) of every listening socket of this process and its descendants, sampled while the
    block runs (torch's rendezvous store exists only while the workers set up and train)."""
    import threading

    import psutil

    seen: set[tuple[str, str]] = set()
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            me = psutil.Process()
            for process in [me, *me.children(recursive=True)]:
                try:
                    seen.update((process.name(), c.laddr.ip) for c in process.net_connections(kind="inet")
                                if c.status == psutil.CONN_LISTEN)
                except psutil.Error:
                    continue

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        done.set()
        sampler.join()


def test_two_ray_workers_train_as_one_world_on_loopback_with_one_writer(local_ray, tokens, tiny_model_dir,
                                                                        tmp_path):
    from modelmill.training.fine_tune import fine_tune

    model = ModelSpec(name_or_path=str(tiny_model_dir))
    workdir, output = tmp_path / "work", tmp_path / "train" / "key" / "model"
    with listening_addresses() as listening:  # every socket the cluster's processes listen on while they train
        manifest = train_on_ray(tokens, model, RAY, workdir, output)
    assert listening and all(ip in ("127.0.0.1", "::1", "::ffff:127.0.0.1") for _, ip in listening), listening
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


def test_instruction_tuning_trains_on_two_ray_workers_as_on_one_process(local_ray, chat_tokens, tmp_path):
    from transformers import AutoTokenizer

    from modelmill.training.fine_tune import fine_tune

    model = ModelSpec(name_or_path=chat_tokens.tokenizer)
    spec = RAY.model_copy(update={"learning_rate": 5e-3})
    manifest = train_on_ray(chat_tokens, model, spec, tmp_path / "work", tmp_path / "train" / "key" / "model")
    one = fine_tune(chat_tokens, model, spec, tmp_path / "work-one", tmp_path / "train" / "key-one" / "model")
    # SFTTrainer in two workers: the same optimizer steps and loss scale as one process, the template it was given
    assert manifest.device.endswith("x 2 Ray workers")
    assert manifest.history[-1]["step"] == one.history[-1]["step"] == 8
    assert manifest.history[-1]["eval_loss"] == pytest.approx(one.history[-1]["eval_loss"], abs=0.1)
    assert AutoTokenizer.from_pretrained(manifest.path).chat_template == chat_tokens.chat_template


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
