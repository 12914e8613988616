"""Only transient failures are retried."""

from __future__ import annotations

import httpx
import httpx2
import pytest

from modelmill.runtime.errors import ConfigError, DataValidationFailed, ThresholdsNotMet, TransientError
from modelmill.runtime.retry import is_transient_error, retry_options
from modelmill.config import RetrySpec


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (TransientError("flaky"), True),
        (httpx.ConnectError("refused"), True),
        (httpx2.ConnectError("refused"), True),
        (httpx2.ReadTimeout("no answer"), True),
        (httpx2.RemoteProtocolError("Server disconnected without sending a response."), True),
        (TimeoutError("slow"), True),
        (ConnectionResetError("reset"), True),
        (ConfigError("bad yaml"), False),
        (DataValidationFailed("nulls"), False),
        (ThresholdsNotMet("too low"), False),
        (ValueError("a bug"), False),
    ],
)
def test_transient_errors_are_recognised(error, transient):
    assert is_transient_error(error) is transient


def test_retry_options_back_off_exponentially():
    options = retry_options(RetrySpec(max_retries=3, delay_seconds=2, jitter_factor=0))
    assert options == {"retries": 3, "retry_delay_seconds": [2, 4, 8], "retry_jitter_factor": None}


def test_a_network_error_wrapped_by_the_client_is_still_transient():
    try:
        try:
            raise httpx2.ReadError("connection reset during an LFS upload")
        except httpx2.ReadError as network:
            raise RuntimeError("Error while uploading 'model.safetensors' to the Hub.") from network
    except RuntimeError as wrapped:
        assert is_transient_error(wrapped)
    assert not is_transient_error(RuntimeError("a bug"))
