"""Which failures are worth retrying, and the retry options of a stage."""

from __future__ import annotations

from typing import Any

from prefect.tasks import exponential_backoff

from modelmill.errors import PermanentError, TransientError
from modelmill.spec import RetrySpec

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def is_transient_error(exc: BaseException) -> bool:
    """True for network failures, timeouts, HTTP 408/429/5xx and `TransientError`; False otherwise."""
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, PermanentError):
        return False
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if status is not None:
        return status in TRANSIENT_STATUS
    import httpx

    return isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError))


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry only failures that `is_transient_error` accepts."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, BaseException) and is_transient_error(exc)


def retry_options(spec: RetrySpec) -> dict[str, Any]:
    """Options for `Task.with_options`: retries with exponential backoff and jitter."""
    return {
        "retries": spec.max_retries,
        "retry_delay_seconds": exponential_backoff(spec.delay_seconds)(spec.max_retries) if spec.max_retries else 0,
        "retry_jitter_factor": spec.jitter_factor or None,
    }
