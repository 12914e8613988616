"""Where a search's trials run: the flow's own task runner (threads), a Dask cluster (`search.runner: dask`, extra
`modelmill[dask]`: MODELMILL_DASK_ADDRESS names one, else a local one of `search.parallel` worker processes on
127.0.0.1) or a Ray cluster (`search.runner: ray`, extra `modelmill[ray]`: MODELMILL_RAY_ADDRESS, `auto` a local
one on 127.0.0.1). A local cluster starts for the search and stops after it.

On Ray, each trial asks for its share of the CPUs and `search.gpus_per_trial` GPUs (Ray gives the trial its own
CUDA_VISIBLE_DEVICES) and carries the settings that find the home; on Dask, the GPUs are a worker resource the
trial asks for (dask worker --resources GPU=1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from modelmill.config.search import SearchSpec
from modelmill.runtime.errors import ConfigError
from modelmill.storage.settings import get_settings


def local_dask_cluster(workers: int) -> dict[str, Any]:
    """A LocalCluster of `workers` processes (a thread each) on loopback, without a dashboard."""
    return {"n_workers": workers, "threads_per_worker": 1, "processes": True, "host": "127.0.0.1",
            "dashboard_address": None}


def gpus_per_trial(search: SearchSpec, available: float, where: str) -> int:
    """The GPUs each trial asks for: `search.gpus_per_trial`, auto being 1 when the cluster has any."""
    if search.gpus_per_trial == "auto":
        return 1 if available >= 1 else 0
    if search.gpus_per_trial > available:
        raise ConfigError(f"search.gpus_per_trial: {search.gpus_per_trial} GPU(s) per trial, and {where} has "
                          f"{available:g}: no trial could start")
    return search.gpus_per_trial


def refuse_remote_pruning(search: SearchSpec, address: str | None, setting: str) -> None:
    """Refuse pruning on a cluster of other machines: trials report to the study's journal on this machine."""
    if address and search.pruning is not None:
        raise ConfigError(f"search.pruning needs the trials to reach the study's journal on this machine, and "
                          f"{setting}={address} names another cluster: remove search.pruning, or use a local "
                          "cluster")


@contextmanager
def dask_runner(search: SearchSpec) -> Iterator[Any]:
    try:
        import dask
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise ConfigError("search.runner: dask needs Dask: pip install 'modelmill[dask]'") from None
    address = get_settings().dask_address
    refuse_remote_pruning(search, address, "MODELMILL_DASK_ADDRESS")
    runner = DaskTaskRunner(address=address) if address else DaskTaskRunner(
        cluster_kwargs=local_dask_cluster(search.parallel))
    with runner:
        workers = runner.client.scheduler_info(n_workers=-1)["workers"].values()
        available = sum(worker.get("resources", {}).get("GPU", 0) for worker in workers)
        gpus = gpus_per_trial(search, available, "the Dask cluster's workers")
        with dask.annotate(**({"resources": {"GPU": gpus}} if gpus else {})):
            yield runner


@contextmanager
def ray_runner(search: SearchSpec) -> Iterator[Any]:
    from modelmill.training.ray_engine import LOCAL_CLUSTER, ray_cluster, shared_settings

    try:
        from prefect_ray import RayTaskRunner
        from prefect_ray.context import remote_options
    except ImportError:
        raise ConfigError("search.runner: ray needs Ray: pip install 'modelmill[ray]'") from None
    address = get_settings().ray_address
    refuse_remote_pruning(search, None if address == LOCAL_CLUSTER else address, "MODELMILL_RAY_ADDRESS")
    with ray_cluster(address) as ray, RayTaskRunner() as runner:  # the runner uses the cluster ray_cluster joined
        resources = ray.cluster_resources()
        cpus = max(1, int(resources.get("CPU", 1)) // search.parallel) if address == LOCAL_CLUSTER else 1
        gpus = gpus_per_trial(search, resources.get("GPU", 0), f"the Ray cluster at {address}")
        with remote_options(num_cpus=cpus, num_gpus=gpus, runtime_env={"env_vars": shared_settings()}):
            yield runner


@contextmanager
def trial_runner(search: SearchSpec) -> Iterator[Any | None]:
    """A started task runner for the trials, or None for the flow's own (threads)."""
    if search.runner == "threads":
        yield None
        return
    with (dask_runner if search.runner == "dask" else ray_runner)(search) as runner:
        yield runner
