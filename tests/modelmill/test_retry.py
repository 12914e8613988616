"""Only transient failures are retried."""

from __future__ import annotations

import httpx
import pytest

from modelmill.errors import ConfigError, DataValidationFailed, ThresholdsNotMet, TransientError
from modelmill.retry import is_transient_error, retry_options
from modelmill.spec import RetrySpec


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (TransientError("flaky"), True),
        (httpx.ConnectError("refused"), True),
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
