"""Run the stages of a flow and remember how each ended (Completed, Cached, Failed), for the run summary."""

from __future__ import annotations

from typing import Any

from prefect import Task

from modelmill.retry import retry_options
from modelmill.settings import get_settings
from modelmill.spec import RetrySpec


class StageLog:
    """Calls tasks inside a flow with the pipeline's stage options (retries, results under MODELMILL_HOME) and
    records each final state name, in call order."""

    def __init__(self, retries: RetrySpec) -> None:
        self.defaults: dict[str, Any] = {**retry_options(retries), "result_storage": get_settings().results}
        self.states: dict[str, str] = {}

    def __call__(self, stage: Task, *args: Any, options: dict[str, Any] | None = None) -> Any:
        """Run `stage` with `args` (and extra `with_options(**options)`); return its result or raise its error."""
        state = stage.with_options(**{**self.defaults, **(options or {})})(*args, return_state=True)
        self.states[stage.name] = state.name
        return state.result()
