"""Run the stages of a flow and remember how each ended (Completed, Cached, Failed), for the run summary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect import Task

from modelmill.config import RetrySpec
from modelmill.manifests import StageCost
from modelmill.observe.timing import rounded, stage_costs
from modelmill.runtime.retry import retry_options
from modelmill.storage.home import current_home
from modelmill.storage.run_records import RunRecord, artifact_folder, paths_in, write_record
from modelmill.storage.settings import get_settings


class Scoped:
    """Stages of another pipeline that a run runs first (the one its model starts from) are recorded under that
    pipeline's name: `reviews-mlm/train`."""

    prefix = ""

    @contextmanager
    def within(self, pipeline: str) -> Iterator[None]:
        outer, self.prefix = self.prefix, f"{self.prefix}{pipeline}/"
        try:
            yield
        finally:
            self.prefix = outer

    def named(self, stage: Task) -> str:
        return f"{self.prefix}{stage.name}"


class StageLog(Scoped):
    """Calls tasks inside a flow with the pipeline's stage options (retries, results under MODELMILL_HOME) and
    records each final state name, in call order, and the artifact folders the results point at."""

    def __init__(self, retries: RetrySpec, record: RunRecord | None = None) -> None:
        self.defaults: dict[str, Any] = {**retry_options(retries), "result_storage": current_home().result_storage()}
        self.states: dict[str, str] = {}
        self.artifacts: list[str] = []  # output folders the stages' results point at, relative to the artifacts
        self.record = record  # kept up to date as stages end: `modelmill gc` keeps what a running run uses

    def __call__(self, stage: Task, *args: Any, options: dict[str, Any] | None = None) -> Any:
        """Run `stage` with `args` (and extra `with_options(**options)`); return its result or raise its error."""
        named = {"task_run_name": self.named(stage)} if self.prefix else {}
        state = stage.with_options(**{**self.defaults, **named, **(options or {})})(*args, return_state=True)
        self.states[self.named(stage)] = state.name
        return self.collect(state.result())

    def submit(self, stage: Task, *args: Any, options: dict[str, Any] | None = None, runner: Any = None) -> Any:
        """Submit `stage` to `runner` (a started task runner), else the flow's own; a future. Pass its result
        through `collect`."""
        from prefect.utilities.callables import get_call_parameters

        task = stage.with_options(**{**self.defaults, **(options or {})})
        if runner is None:
            return task.submit(*args)
        return runner.submit(task, parameters=get_call_parameters(stage.fn, args, {}))

    def collect(self, result: Any) -> Any:
        """Remember the output folders `result` points at (in the run's record), and return it."""
        root = get_settings().artifacts
        found = [folder for path in paths_in(result) if (folder := artifact_folder(path, root)) is not None]
        new = [folder for folder in dict.fromkeys(found) if folder not in self.artifacts]
        self.artifacts += new
        if new and self.record is not None:
            write_record(self.record.model_copy(update={"artifacts": self.artifacts}))
        return result

    def costs(self) -> dict[str, StageCost]:
        """What each stage's own work cost in this flow run."""
        from prefect import runtime

        return rounded(stage_costs(runtime.flow_run.id))
