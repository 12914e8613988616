"""Where a search's trials run: the flow's own task runner (threads), or a Dask cluster (`search.runner: dask`,
extra `modelmill[dask]`): MODELMILL_DASK_ADDRESS names one, else a local one of `search.parallel` worker processes
on 127.0.0.1 starts for the search and stops after it."""

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


@contextmanager
def trial_runner(search: SearchSpec) -> Iterator[Any | None]:
    """A started task runner for the trials, or None for the flow's own (threads)."""
    if search.runner == "threads":
        yield None
        return
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise ConfigError("search.runner: dask needs Dask: pip install 'modelmill[dask]'") from None
    address = get_settings().dask_address
    runner = DaskTaskRunner(address=address) if address else DaskTaskRunner(
        cluster_kwargs=local_dask_cluster(search.parallel))
    with runner:
        yield runner
