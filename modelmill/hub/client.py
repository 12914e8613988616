"""An `HfApi` for a pipeline's Hub target, with a timeout on every request (huggingface_hub 2.x has none)."""

from __future__ import annotations

import os
import threading

from huggingface_hub import HfApi
from pydantic import SecretStr

from modelmill.config import PushSpec
from modelmill.runtime.errors import ConfigError

DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 3_600.0
_configured: float | None = None
_lock = threading.Lock()


def hub_timeout() -> float:
    """MODELMILL_HUB_TIMEOUT: seconds to wait for a Hub answer (connect: at most 10 s), up to an hour. Default 60."""
    raw = os.environ.get("MODELMILL_HUB_TIMEOUT", "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise ConfigError(f"MODELMILL_HUB_TIMEOUT={raw!r} is not a number of seconds") from None
    if not 0 < value <= MAX_TIMEOUT:
        raise ConfigError(f"MODELMILL_HUB_TIMEOUT={raw!r} must be a number of seconds in (0, {MAX_TIMEOUT:.0f}]")
    return value


def use_timeouts() -> None:
    """Make huggingface_hub's shared HTTP client time out (a commit nobody answers fails, and is retried)."""
    global _configured
    seconds = hub_timeout()
    with _lock:
        if _configured == seconds:
            return
        import httpx2
        from huggingface_hub import set_client_factory
        from huggingface_hub.utils._http import hf_request_event_hook

        timeout = httpx2.Timeout(seconds, connect=min(seconds, 10.0))
        set_client_factory(
            lambda: httpx2.Client(
                event_hooks={"request": [hf_request_event_hook]}, follow_redirects=True, timeout=timeout
            )
        )
        _configured = seconds


def hub_api(spec: PushSpec, token: SecretStr | None) -> HfApi:
    """The client for `spec.endpoint`, with timeouts on and no request to any other host."""
    from huggingface_hub import constants

    constants.HF_HUB_DISABLE_TELEMETRY = True  # else its first request fetches a registry from the public Hub
    use_timeouts()
    return HfApi(endpoint=spec.endpoint, token=token.get_secret_value() if token else None)
