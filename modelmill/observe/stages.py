"""Run the stages of a flow and remember how each ended (Completed, Cached, Failed), for the run summary."""

from __future__ import annotations

from typing import Any

from prefect import Task


class StageLog:
    """Calls tasks inside a flow and records each final state name, in call order."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}

    def __call__(self, stage: Task, *args: Any, options: dict[str, Any] | None = None) -> Any:
        """Run `stage` with `args` (and `with_options(**options)`); return its result or raise its error."""
        state = stage.with_options(**(options or {}))(*args, return_state=True)
        self.states[stage.name] = state.name
        return state.result()
