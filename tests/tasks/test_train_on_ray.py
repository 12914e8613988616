"""Training on Ray (`train.engine: ray`): Ray Train's TorchTrainer on a local cluster that binds loopback only,
one writer, the same steps as one process, the failing worker's own error; and the checks before any worker
starts (a local home on several nodes, GPUs the cluster lacks, a batch that does not split)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from modelmill.config import ModelSpec, TrainSpec
from modelmill.runtime.errors import ConfigError
from modelmill.training.processes import TrainingProcessFailed
from modelmill.training.ray_engine import RayClusterError, check_cluster, ray_cluster, train_on_ray, worker_failure

RAY = TrainSpec(epochs=2, batch_size=8, learning_rate=1e-3, engine="ray", ray={"num_workers": 2})


def cluster(nodes: int = 1, gpus: int = 0) -> SimpleNamespace:
    """What check_cluster asks of Ray, for a cluster of `nodes` nodes with `gpus` GPUs."""
    return SimpleNamespace(nodes=lambda: [{"Alive": True}] * nodes + [{"Alive": False}],
                           cluster_resources=lambda: {"CPU": 4.0 * nodes, "GPU": float(gpus)})


def test_several_nodes_need_a_home_they_all_reach():
    with pytest.raises(RayClusterError, match=r"has 2 nodes, and the home \(MODELMILL_HOME\) is a local folder"):
        check_cluster(cluster(nodes=2), RAY, "10.0.0.5:6379", remote_home=False)
    assert check_cluster(cluster(nodes=2), RAY, "10.0.0.5:6379", remote_home=True) is False
    assert check_cluster(cluster(nodes=1), RAY, "auto", remote_home=False) is False, "one node: a local home works"


def test_gpus_are_used_when_the_cluster_has_one_per_worker_and_required_ones_must_exist():
    assert check_cluster(cluster(gpus=2), RAY, "auto", remote_home=False) is True
    assert check_cluster(cluster(gpus=1), RAY, "auto", remote_home=False) is False
    wants = RAY.model_copy(update={"ray": RAY.ray.model_copy(update={"use_gpu": True})})
    with pytest.raises(RayClusterError, match=r"use_gpu: true needs 2 GPU\(s\); the Ray cluster at auto has 1"):
        check_cluster(cluster(gpus=1), wants, "auto", remote_home=False)
    with pytest.raises(ConfigError, match=r"batch_size 9 cannot be split between 2 Ray workers"):
        check_cluster(cluster(), RAY.model_copy(update={"batch_size": 9}), "auto", remote_home=False)


def test_the_engine_and_its_workers_are_not_part_of_the_identity():
    assert RAY.model_dump() == TrainSpec(epochs=2, batch_size=8, learning_rate=1e-3).model_dump()
    with pytest.raises(ValueError, match="num_workers"):
        TrainSpec(engine="ray", ray={"num_workers": 0})


def test_a_failed_worker_is_named_with_its_own_error_once():
    failure = SimpleNamespace(worker_failures={1: FileNotFoundError("no-tokens-here"), 0: RuntimeError("peer")})
    error = worker_failure(failure, 2)  # type: ignore[arg-type]
    assert isinstance(error, TrainingProcessFailed)
    assert error.reason == "Ray training worker 0 of 2 failed: RuntimeError: peer"


@pytest.mark.slow
def test_two_ray_workers_train_as_one_world_on_loopback_with_one_writer(tokens, tiny_model_dir, tmp_path,
                                                                        monkeypatch):
    from modelmill.training.fine_tune import fine_tune

    monkeypatch.setenv("MODELMILL_RAY_ADDRESS", "auto")
    from prefect.plugins import load_prefect_collections

    load_prefect_collections()  # Prefect imports Ray this way (prefect-ray) before the stage, as in a worker
    model = ModelSpec(name_or_path=str(tiny_model_dir))
    workdir, output = tmp_path / "work", tmp_path / "train" / "key" / "model"
    with ray_cluster("auto"):  # one local cluster for both trainings below (each would start its own)
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
