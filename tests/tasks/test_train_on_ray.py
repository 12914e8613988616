"""Training on Ray (`train.engine: ray`): the checks before any worker starts (a local home on several nodes, GPUs
the cluster lacks, a batch that does not split), the identity, the failing worker's error. Training on a real
local cluster is in tests/flows/test_on_ray.py."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import pytest

from modelmill.config import TrainSpec
from modelmill.runtime.errors import ConfigError
from modelmill.training.processes import TrainingProcessFailed
from modelmill.training.ray_engine import RayClusterError, check_cluster, worker_failure

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


def test_a_failed_workers_error_is_told_without_the_token(monkeypatch):
    canary = "Canary-Secret-5b1e9d"  # not shaped like a Hub token: only the guard on the token itself removes it
    monkeypatch.setenv("HF_TOKEN", canary)
    error = worker_failure(SimpleNamespace(worker_failures={0: OSError(f"token {canary} refused")}), 2)  # type: ignore[arg-type]
    assert error.reason == "Ray training worker 0 of 2 failed: OSError: token *** refused"
    assert canary not in str(error) and canary.encode() not in pickle.dumps(error)
