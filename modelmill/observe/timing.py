"""How long each stage's own work took (its function body, not Prefect's bookkeeping around it), per flow run:
the run summary shows it, and the benchmark's orchestration overhead is the rest of the run's wall time."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_WORK: dict[str, dict[str, float]] = {}
_LOCK = threading.Lock()


def _run_id() -> str:
    from prefect import runtime

    return str(runtime.flow_run.id or "")


@contextmanager
def stage_work(stage: str) -> Iterator[None]:
    """Time the body of stage `stage` for the flow run it belongs to (attempts add up)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        with _LOCK:
            seconds = _WORK.setdefault(_run_id(), {})
            seconds[stage] = seconds.get(stage, 0.0) + elapsed


def timed(stage: str) -> Callable[[F], F]:
    """Decorate a stage's function (under `@task`) so its body is timed as `stage_work(stage)`."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with stage_work(stage):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def work_seconds(run_id: object) -> dict[str, float]:
    """The seconds each stage of flow run `run_id` worked (cached stages: none), and forget them."""
    with _LOCK:
        return {stage: round(seconds, 3) for stage, seconds in _WORK.pop(str(run_id), {}).items()}
