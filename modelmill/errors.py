"""Errors users see, split by whether a retry could ever help."""

from __future__ import annotations


class ModelmillError(Exception):
    """Base class: a failure with a message written for the user."""


class PermanentError(ModelmillError):
    """Retrying cannot fix this: the input, the data or the model is wrong."""


class ConfigError(PermanentError):
    """`pipelines.yaml` (or a value derived from it) is invalid."""


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


class PreflightFailed(PermanentError):
    """Checks before any work found problems in the pipeline's files, model or metrics."""
