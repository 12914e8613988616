"""A run whose every stage is cached costs nothing: `modelmill run` walks the flow's stages with this probe in the
place of the stage runner. Each stage's cache key is computed by the stage's own cache policy from the same inputs
(the upstream results read from their records), and its record read back; stages that are never cached (reading
the Hub's head) run as they are, since what they read must be read again. One miss and the probe gives up: the
run goes through Prefect as usual. No model, dataset or server is loaded or started for a run that hits."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from modelmill.observe.stages import Scoped
from modelmill.storage.home import current_home


class NotCached(Exception):
    """A stage whose result is not in the cache (or may not be taken from it)."""


class CacheProbe(Scoped):
    """Called like the flow's stage runner (`StageLog`); returns each stage's cached result, or raises NotCached."""

    def __init__(self) -> None:
        from prefect.results import ResultStore

        self.store = ResultStore(result_storage=current_home().results_filesystem())
        self.states: dict[str, str] = {}
        self.artifacts: list[str] = []

    def costs(self) -> dict:
        return {}  # nothing ran

    def __call__(self, stage: Any, *args: Any, options: dict[str, Any] | None = None) -> Any:
        from prefect.cache_policies import NO_CACHE, CachePolicy
        from prefect.utilities.callables import get_call_parameters

        if options and options.get("refresh_cache"):
            raise NotCached(f"{stage.name}: asked to run again")
        policy = stage.cache_policy
        parameters = get_call_parameters(stage.fn, args, {})
        if policy is NO_CACHE:  # a read of the outside world (the Hub's head): done again
            self.states[self.named(stage)] = "Completed"
            return stage.fn(**parameters)
        if not isinstance(policy, CachePolicy):
            raise NotCached(f"{stage.name}: has no cache policy")
        context = SimpleNamespace(task=stage, result_store=self.store)
        key = policy.compute_key(task_ctx=context, inputs=parameters, flow_parameters={})
        if key is None or not self.store.exists(key):
            raise NotCached(stage.name)
        self.states[self.named(stage)] = "Cached"
        return self.store.read(key).result
