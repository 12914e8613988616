"""Hub failures as modelmill errors that hold no secret.

The client's own errors keep the request they failed on, `Authorization: Bearer <token>` included, and Prefect
pickles a failed task's exception into its result storage. Every Hub call therefore goes through `hub_errors`,
which re-raises what went wrong as a modelmill error keeping the status, the request id and the server's message,
never the request, the response or the chain of causes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from modelmill.runtime.errors import ModelmillError, PermanentError, PushRejected, TransientError
from modelmill.runtime.retry import error_chain, is_transient_error

PRECONDITION_FAILED = 412  # the Hub's answer to a commit whose parent_commit is no longer the head
REFUSALS = frozenset({401, 403, 404})
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")
_HUB_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{6,}")


class HubError(ModelmillError):
    """A Hub request that failed: the HTTP status and request id when there was an answer."""

    def __init__(self, message: str, status: int | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.request_id = request_id


class HubUnavailable(HubError, TransientError):
    """The Hub did not answer, timed out, or answered 408/429/5xx: worth retrying."""


class HubRequestFailed(HubError, PermanentError):
    """The Hub answered with an error a retry cannot change."""


class HubRefused(HubError, PushRejected):
    """401/403/404: the token, the repo id or the endpoint is wrong."""


class HeadMoved(HubError):
    """The head of `main` is not the one a release decision compared against: decide again, then publish."""


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` without the given secrets, bearer credentials or anything shaped like a Hub token."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _HUB_TOKEN.sub("hf_***", _BEARER.sub(r"\1***", text))


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def http_details(exc: BaseException) -> tuple[int | None, str | None, str | None]:
    """(status, request id, server message) of the first error in the chain that holds an HTTP answer."""
    for error in error_chain(exc):
        response = getattr(error, "response", None)
        status = getattr(response, "status_code", None)
        if status is not None:
            return int(status), getattr(error, "request_id", None), getattr(error, "server_message", None)
    return None, None, None


def safe_hub_error(exc: BaseException, endpoint: str, repo_id: str, secrets: tuple[str, ...] = ()) -> ModelmillError:
    """The modelmill error to raise instead of `exc` (a client or network error); it keeps no request."""
    status, request_id, server_message = http_details(exc)
    cause = error_chain(exc)[-1] if status is None else exc
    what = scrub(server_message or _first_line(cause), secrets)
    where = f"{endpoint} ({repo_id})"
    ident = f", request id {request_id}" if request_id else ""
    if status == PRECONDITION_FAILED:
        return HeadMoved(f"{where}: main moved while publishing (HTTP 412{ident}): {what}", status, request_id)
    if is_transient_error(exc):
        answer = f"HTTP {status}{ident}" if status is not None else type(cause).__name__
        return HubUnavailable(f"{where} did not complete the request ({answer}): {what}", status, request_id)
    if status in REFUSALS:
        return HubRefused(
            f"{endpoint} refused '{repo_id}' (HTTP {status}{ident}): check that the token can write to this repo "
            "(HF_TOKEN or push.token_secret_block) and that push.repo_id and push.endpoint are right; "
            f"the server said: {what}", status, request_id,
        )
    answer = f"HTTP {status}{ident}" if status is not None else type(cause).__name__
    return HubRequestFailed(f"{where} failed ({answer}): {what}", status, request_id)


@contextmanager
def hub_errors(endpoint: str, repo_id: str, token: str | None = None) -> Iterator[None]:
    """Turn any client or network error raised inside into a secret-free modelmill error; modelmill's own errors
    and interrupts pass through."""
    try:
        yield
    except ModelmillError:
        raise
    except Exception as exc:
        raise safe_hub_error(exc, endpoint, repo_id, (token,) if token else ()) from None


def holds_an_http_exchange(exc: BaseException) -> bool:
    """Whether the exception itself (what pickling keeps: its arguments and attributes; a modelmill error that
    replaces it carries no cause or context) holds a request or a response, and with them the request's headers."""
    for name in ("request", "response", "_request"):
        try:
            if getattr(exc, name, None) is not None:
                return True
        except Exception:  # httpx raises when a request was never attached
            continue
    return False


@contextmanager
def secret_safe(endpoint: str, what: str) -> Iterator[None]:
    """For library calls that may reach the Hub with the environment's token (loading a model, a tokenizer or a
    dataset by Hub id): an error that holds the HTTP exchange is re-raised without it; any other passes as is."""
    try:
        yield
    except ModelmillError:
        raise
    except Exception as exc:
        if not holds_an_http_exchange(exc):
            raise
        raise safe_hub_error(exc, endpoint, what, tuple(filter(None, [os.environ.get("HF_TOKEN")]))) from None
