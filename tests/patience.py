"""How long the tests wait for a process, a server or a message: a bound set for a quiet 2-core machine, times a
factor measured when the test run starts, so that a machine at load 10 passes what a quiet one passes.

The bounds are there so that a hang fails instead of stalling the suite; no test asserts that something is fast.
`MODELMILL_TEST_PATIENCE` sets the factor by hand.
"""

from __future__ import annotations

import os
import statistics
import time
from functools import cache

QUIET_SECONDS = 0.1  # the probe below on a quiet 2-core machine (measured: 0.085 s)
MOST = 20.0


def probe_seconds() -> float:
    """A fixed piece of pure-Python work: what a process gets of one core right now."""
    started = time.perf_counter()
    sum(i * i for i in range(2_000_000))
    return time.perf_counter() - started


@cache
def factor() -> float:
    """How much slower than a quiet machine this one is now (1 at least, `MOST` at most)."""
    if given := os.environ.get("MODELMILL_TEST_PATIENCE"):
        return float(given)
    measured = statistics.median(probe_seconds() for _ in range(3)) / QUIET_SECONDS
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    return min(MOST, max(1.0, measured, load))


def patient(seconds: float) -> float:
    """`seconds` on a quiet machine, scaled to this one."""
    return seconds * factor()
