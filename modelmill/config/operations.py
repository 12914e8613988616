"""The `push`, `schedule`, `notify` and `retries` sections: where a model goes, when, who hears."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from modelmill.config.base import (
    MAX_DELAY_SECONDS,
    Section,
)


class PushSpec(Section):
    """Where the model goes on a Hugging Face Hub (or a Hub-compatible server)."""

    repo_id: str = Field(description="'<namespace>/<name>' on the Hub.")
    endpoint: str = Field("https://huggingface.co", description="An http(s) URL of a Hub-compatible server.")
    private: bool = Field(True, description="Create the Hub repository as private.")
    token_secret_block: str | None = Field(
        None, pattern=r"^[a-z0-9][a-z0-9-]{0,99}$",
        description="Name of a Prefect Secret block with the token, used when HF_TOKEN is not set (a block name: "
        "lowercase letters, digits and dashes).",
    )
    commit_message: str = Field(
        "modelmill: fine-tuned model", min_length=1, description="The Hub commit message of each release."
    )

    @field_validator("repo_id")
    @classmethod
    def _repo_id_shape(cls, value: str) -> str:
        part = r"[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9_])?"
        if not re.fullmatch(f"{part}/{part}", value) or ".." in value or "--" in value:
            raise ValueError(
                f"{value!r} is not a Hub repo id: write '<namespace>/<name>' with letters, digits, '-', '_' and "
                "'.', each part starting and ending with a letter or digit, without '..' or '--'"
            )
        return value

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL (e.g. https://huggingface.co)")
        return value.rstrip("/")


@cache
def prefect_croniter() -> Any:
    """The croniter Prefect validates cron schedules with, loaded from its file: importing `prefect` for it would
    take a second."""
    import importlib.util

    package = importlib.util.find_spec("prefect")
    assert package is not None and package.origin is not None
    path = Path(package.origin).parent / "_vendor" / "croniter" / "croniter.py"
    spec = importlib.util.spec_from_file_location("modelmill_prefect_croniter", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.croniter


class ScheduleSpec(Section):
    """When a deployment retrains the model."""

    cron: str = Field(description="When to retrain: a five-field cron expression.")
    timezone: str = Field("UTC", description="The time zone the cron expression is read in (IANA name).")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (an IANA name such as UTC or Europe/Paris)") from None
        return value

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        """Prefect's own rule (its croniter, without random or hashed fields), without importing Prefect, on the five
        fields of cron (croniter would read a sixth as seconds and a seventh as the year)."""
        fields = value.split()
        if len(fields) != 5 and not value.startswith("@"):
            raise ValueError(f"{value!r} is not a valid cron expression: it has {len(fields)} fields, not 5: minute hour "
                             "day-of-month month day-of-week (e.g. '0 3 * * 1')")
        if not prefect_croniter().is_valid(value) or any(part.casefold() in ("r", "h") for part in fields):
            raise ValueError(f"{value!r} is not a valid cron expression (e.g. '0 3 * * 1')")
        return value


DURATION = re.compile(r"^(\d{1,7})(s|m|h|d)$")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_POLL_SECONDS = 5  # each poll is a short flow run on the server
MAX_TRIGGER_SECONDS = 7 * 86400


def duration_seconds(value: str) -> int:
    """'30s', '5m', '2h', '1d' -> seconds; anything else is refused with the shape it should have."""
    match = DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration: write a whole number and a unit, s, m, h or d (e.g. '5m')")
    return int(match.group(1)) * DURATION_UNITS[match.group(2)]


class TriggerSpec(Section):
    """Retrain when the data changes: a watcher polls the data sources by their content identity (a local file's
    content, an object's checksum or ETag, a Hub dataset's commit) and starts one run per change."""

    on: Literal["data"] = Field(description="What starts a run: 'data', a change of the pipeline's data sources.")
    poll: str = Field("5m", description="How often the sources are looked at: a number and a unit, s, m, h or d "
                      f"(at least {MIN_POLL_SECONDS}s).")
    debounce: str = Field("0s", description="How long a change must stay unchanged before it starts a run, so that "
                          "a burst of uploads starts one run (0s: at the first poll that sees it).")

    @field_validator("poll", "debounce")
    @classmethod
    def _duration(cls, value: str, info: Any) -> str:
        seconds = duration_seconds(value)
        low = MIN_POLL_SECONDS if info.field_name == "poll" else 0
        if not low <= seconds <= MAX_TRIGGER_SECONDS:
            raise ValueError(f"{value!r} is {seconds} s: {info.field_name} must be between {low} s and 7 days")
        return value

    @property
    def poll_seconds(self) -> int:
        return duration_seconds(self.poll)

    @property
    def debounce_seconds(self) -> int:
        return duration_seconds(self.debounce)


class ObserveSpec(Section):
    """What else sees a run."""

    tracking: Literal["none", "mlflow", "tensorboard"] = Field(
        "none", description="Experiment tracking: each training's parameters and curves, and the test metrics, in a "
        "local MLflow file store (`<home>/tracking/mlruns`) or TensorBoard folder (`<home>/tracking/tensorboard`) "
        "(extra `modelmill[tracking]`); a cached training logs nothing again.")


class NotifySpec(Section):
    """Who hears about a run: a Prefect notification block and the events that trigger it."""

    block: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]*/[\w.-]+$",
        description="A saved Prefect notification block as '<block type slug>/<block name>', "
        "e.g. 'custom-webhook/ml-oncall' or 'slack-webhook/ml-alerts'.",
    )
    on: list[Literal["failed", "crashed", "promoted", "not_promoted"]] = Field(
        default_factory=lambda: ["failed", "crashed"],
        min_length=1,
        description="failed: a stage raised (bad data, thresholds, errors); crashed: the process died or was "
        "killed; promoted / not_promoted: the champion comparison of evaluate.promote (with its table).",
    )

    @model_validator(mode="before")
    @classmethod
    def _on_written_bare(cls, value: Any) -> Any:
        """YAML 1.1 reads a bare `on:` key as the boolean true; here it can only mean the field `on`."""
        if isinstance(value, dict) and True in value:
            value = {("on" if key is True else key): item for key, item in value.items()}
        return value


class DeploySpec(Section):
    """Where `modelmill deploy` puts the pipeline: a work pool on the server, the image its runs start in, and
    job variables that the pool's base job template defines (checked against it at deploy time)."""

    work_pool: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[\w.-]+$",
                                  description="The work pool (default: `modelmill deploy --pool`, itself 'modelmill').")
    image: str | None = Field(None, min_length=1, max_length=500,
                              description="The image runs start in (the pool's `image` job variable).")
    job_variables: dict[str, Any] = Field(
        default_factory=dict,
        description="Values of the pool's job variables, e.g. {gpu_limit: 1, node_selector: {gpu: h100}} on the "
        "shipped Kubernetes template; a name the pool does not define is an error.",
    )


class RetrySpec(Section):
    """Retries of transient failures (network, 429, 5xx) for every stage."""

    max_retries: int = Field(2, ge=0, le=10, description="Retries of a failed stage before the run fails.")
    delay_seconds: float = Field(10.0, ge=0, le=MAX_DELAY_SECONDS, description="First delay; doubles on each retry.")
    jitter_factor: float = Field(
        0.2, ge=0, le=10, description="Random spread of the retry delays (a share of each delay)."
    )
