"""What each stage's own work cost (its function body, not Prefect's bookkeeping around it), per flow run: wall
seconds, CPU seconds (this process and the processes it waited for, such as torchrun's), GPU seconds (wall seconds
times the GPUs the stage used), and peak resident memory. Attempts add up; a cached stage did no work and costs
nothing. The run summary, the run's record, the dashboard and the model card show them."""

from __future__ import annotations

import functools
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from modelmill.manifests import StageCost

F = TypeVar("F", bound=Callable[..., Any])

SAMPLE_SECONDS = 0.2  # how often a stage's resident memory is read


_COSTS: dict[str, dict[str, StageCost]] = {}
_LOCK = threading.Lock()


def _run_id() -> str:
    from prefect import runtime

    return str(runtime.flow_run.id or "")


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of the child processes it has waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def resident_mb() -> float:
    """This process's resident memory now (Linux: /proc; elsewhere its peak so far)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def gpus_in_use() -> int:
    """GPUs this process has initialised CUDA on (0 when torch is not loaded or uses none)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return 0
    return torch.cuda.device_count()


_STAGE_GPUS = threading.local()


def used_gpus(count: int) -> None:
    """Tell the stage being timed that its work ran on `count` GPUs (training in child processes does)."""
    _STAGE_GPUS.count = max(getattr(_STAGE_GPUS, "count", 0), count)


class Measured:
    """What `measure` found, once its block has ended."""

    cost = StageCost()


@contextmanager
def measure() -> Iterator[Measured]:
    """Measure the block: wall and CPU seconds, GPU seconds, peak resident memory (sampled)."""
    measured = Measured()
    peak = [resident_mb()]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_SECONDS):
            peak[0] = max(peak[0], resident_mb())

    sampler = threading.Thread(target=sample, name="modelmill-memory", daemon=True)
    sampler.start()
    outer_gpus = getattr(_STAGE_GPUS, "count", 0)
    _STAGE_GPUS.count = 0
    started, cpu_started = time.perf_counter(), cpu_seconds()
    try:
        yield measured
    finally:
        wall = time.perf_counter() - started
        gpus = max(gpus_in_use(), getattr(_STAGE_GPUS, "count", 0))
        _STAGE_GPUS.count = max(outer_gpus, gpus)
        done.set()
        sampler.join()
        measured.cost = StageCost(wall_seconds=wall, cpu_seconds=max(cpu_seconds() - cpu_started, 0.0),
                                  gpu_seconds=wall * gpus, peak_memory_mb=max(peak[0], resident_mb()))


@contextmanager
def stage_work(stage: str) -> Iterator[None]:
    """Measure the body of stage `stage` for the flow run it belongs to (attempts add up)."""
    with measure() as measured:
        yield
    with _LOCK:
        costs = _COSTS.setdefault(_run_id(), {})
        costs[stage] = costs[stage].plus(measured.cost) if stage in costs else measured.cost


def timed(stage: str) -> Callable[[F], F]:
    """Decorate a stage's function (under `@task`) so its body is measured as `stage_work(stage)`."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with stage_work(stage):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def stage_costs(run_id: object) -> dict[str, StageCost]:
    """What each stage of flow run `run_id` cost (cached stages: absent), and forget it."""
    with _LOCK:
        return dict(_COSTS.pop(str(run_id), {}))


def rounded(costs: dict[str, StageCost]) -> dict[str, StageCost]:
    return {stage: StageCost(wall_seconds=round(cost.wall_seconds, 3), cpu_seconds=round(cost.cpu_seconds, 3),
                             gpu_seconds=round(cost.gpu_seconds, 3), peak_memory_mb=round(cost.peak_memory_mb, 1))
            for stage, cost in costs.items()}
