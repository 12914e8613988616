"""Errors users see, split by whether a retry could ever help."""

from __future__ import annotations


class ModelmillError(Exception):
    """Base class: a failure with a message written for the user, and its one-line `reason` (for run states and
    notifications; the message may hold a whole report)."""

    # Self-contained: never the exception it replaced (a Hub client error's request holds the token). Plain pickling
    # drops the chain; tblib's pickling support (which Dask's distributed installs) would keep it, and tracebacks
    # would print it. The interpreter still links them internally; Python code sees no cause and no context.
    __cause__ = property(lambda self: None, lambda self, value: None)  # type: ignore[assignment]
    __context__ = property(lambda self: None, lambda self, value: None)  # type: ignore[assignment]

    def __init__(self, message: str = "", reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or (message.strip().splitlines() or [type(self).__name__])[0]

    def outcome(self) -> str:
        """`ThresholdsNotMet: accuracy 0.5750 is below 0.8`: what a run's state and its notification say."""
        return f"{type(self).__name__}: {self.reason}"


class PermanentError(ModelmillError):
    """Retrying cannot fix this: the input, the data or the model is wrong."""


class ConfigError(PermanentError):
    """`pipelines.yaml` (or a value derived from it) is invalid."""


class UsageError(ConfigError):
    """The command line is wrong (a `--set` that names no setting, or a value it refuses): exit code 2, as for
    any other bad usage."""


class DataError(PermanentError):
    """A data file is missing, unreadable or inconsistent with the spec."""


class DataValidationFailed(PermanentError):
    """One or more Great Expectations rules failed."""


class ThresholdsNotMet(PermanentError):
    """The evaluated model is below at least one declared threshold."""


class PushRejected(PermanentError):
    """The Hub refused the push for a reason a retry cannot change (401/403/404...)."""


class TransientError(ModelmillError):
    """A failure that may pass on its own: network hiccup, 429, 5xx."""


class LeaseLost(TransientError):
    """A stage's lock on its cache key lapsed while it worked (its process was paused past the lease) and another
    holder took it: nothing is published; the retry waits for that holder and reuses its output."""


class PreflightFailed(PermanentError):
    """Checks before any work found problems in the pipeline's files, model or metrics."""
