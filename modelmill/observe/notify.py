"""Tell people when a run fails or crashes, through the Prefect notification block the pipeline names."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from modelmill.config import NotifySpec

logger = logging.getLogger("modelmill.notify")

# Flow run id -> (pipeline, notify settings), filled once a run has read its spec.
_RUNS: dict[str, tuple[str, NotifySpec | None]] = {}


def remember(flow_run_id: Any, pipeline: str, notify: NotifySpec | None) -> None:
    """Record which notifications a run asked for, for the hooks that fire when it ends."""
    _RUNS[str(flow_run_id)] = (pipeline, notify)


def notify_settings_from_file(pipeline: str, pipelines_file: str | Path) -> NotifySpec | None:
    """The pipeline's `notify` (or the file's default) read leniently: a run that failed on a broken file
    still notifies if the `notify` part of it is readable."""
    try:
        raw = yaml.safe_load(Path(pipelines_file).read_text(encoding="utf-8")) or {}
        section = ((raw.get("pipelines") or {}).get(pipeline) or {}).get("notify") or raw.get("notify")
        return NotifySpec.model_validate(section) if section else None
    except (OSError, yaml.YAMLError, ValidationError, AttributeError):
        return None


MAX_BODY = 600  # characters: a message people read on a phone; the whole report stays in the run's artifacts


def message(pipeline: str, event: str, run_name: str, detail: str, link: str | None) -> tuple[str, str]:
    """Subject and body: the pipeline, what happened, why (cut to fit), and where to look; under MAX_BODY."""
    subject = f"modelmill: pipeline '{pipeline}' {event}"
    head = f"Pipeline '{pipeline}' {event} (run {run_name})."
    tail = f"\n\n{link}" if link else ""
    room = MAX_BODY - len(head) - len(tail) - 3
    detail = " ".join(detail.split()) or "(no message)"
    if len(detail) > room:
        detail = detail[: max(room - 1, 0)] + "…"
    return subject, f"{head}\n\n{detail}{tail}"


def run_link() -> str | None:
    """Where to see the run: its page on the configured server, or, for a temporary server that stops with the
    run, where its records stay."""
    from prefect.runtime import flow_run as runtime
    from prefect.settings import PREFECT_API_URL

    from modelmill.runtime.server import TEMPORARY_API_URL

    temporary = os.environ.get(TEMPORARY_API_URL)
    if temporary and temporary == PREFECT_API_URL.value():
        return ("Run: recorded by a temporary Prefect server that stopped with the run; `prefect server start` with "
                "the same PREFECT_HOME shows it (set PREFECT_API_URL to a running server for links)")
    url = getattr(runtime, "ui_url", None)
    return f"Run: {url}" if url else None


def send(settings: NotifySpec, subject: str, body: str) -> None:
    """Load the notification block and send; a broken block is logged, never raised over the run's own error."""
    from prefect.blocks.core import Block

    try:
        block = Block.load(settings.block)
        block.notify(body=body, subject=subject)
    except Exception as exc:  # the run already failed: losing the real error to a notify error helps no one
        logger.error("Could not send the notification through block '%s': %s", settings.block, exc)


def announce(settings: NotifySpec, pipeline: str, event: str, run_name: str, detail: str) -> None:
    """Send the message for `event` ('failed', 'not promoted'…) of a run, with where to see it."""
    send(settings, *message(pipeline, event, run_name, detail, run_link()))


def notify_run_end(flow_run: Any, state: Any, event: str) -> None:
    """Flow hook body: notify for `event` ('failed' or 'crashed') if the run's pipeline asks for it."""
    parameters = flow_run.parameters or {}
    pipeline, settings = _RUNS.get(str(flow_run.id), (parameters.get("pipeline", "?"), None))
    if settings is None:
        settings = notify_settings_from_file(pipeline, parameters.get("pipelines_file", "pipelines.yaml"))
    if settings is not None and event in settings.on:
        announce(settings, pipeline, event, flow_run.name, state.message or "")


def on_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect `on_failure` hook."""
    notify_run_end(flow_run, state, "failed")


def on_crashed(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect `on_crashed` hook, for runs outside deployments: a deployment's crash is reported by the server
    automation that `modelmill deploy`/`serve` creates (it fires even after a SIGKILL, which no hook survives)."""
    if getattr(flow_run, "deployment_id", None) is None:
        notify_run_end(flow_run, state, "crashed")
