"""Which failures are worth retrying, and the retry options of a stage."""

from __future__ import annotations

from typing import Any

from modelmill.config import RetrySpec
from modelmill.runtime.errors import PermanentError, TransientError

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def _network_errors() -> tuple[type[BaseException], ...]:
    """Transport errors of the HTTP libraries in use: huggingface_hub 2.x speaks httpx2, Prefect httpx."""
    import httpx

    errors: list[type[BaseException]] = [httpx.TransportError, ConnectionError, TimeoutError]
    try:
        import httpx2

        errors.append(httpx2.TransportError)
    except ImportError:  # pragma: no cover - huggingface_hub < 2 uses httpx/requests
        pass
    return tuple(errors)


def error_chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the errors it wraps (`raise ... from`, or raised while handling): a failed LFS upload arrives
    as a RuntimeError around the network error."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not other for other in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def is_transient_error(exc: BaseException) -> bool:
    """True for network failures, timeouts, HTTP 408/425/429/5xx and `TransientError`, also when wrapped in
    another error; False for modelmill's permanent errors and everything else."""
    for error in error_chain(exc):
        if isinstance(error, TransientError):
            return True
        if isinstance(error, PermanentError):
            return False
        status = getattr(getattr(error, "response", None), "status_code", None)
        if status is not None:
            return status in TRANSIENT_STATUS
        if isinstance(error, _network_errors()):
            return True
    return False


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry only failures that `is_transient_error` accepts."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, BaseException) and is_transient_error(exc)


def retry_options(spec: RetrySpec) -> dict[str, Any]:
    """Options for `Task.with_options`: retries with exponential backoff and jitter."""
    from prefect.tasks import exponential_backoff

    return {
        "retries": spec.max_retries,
        "retry_delay_seconds": exponential_backoff(spec.delay_seconds)(spec.max_retries) if spec.max_retries else 0,
        "retry_jitter_factor": spec.jitter_factor or None,
    }
