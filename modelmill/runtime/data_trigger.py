"""Retraining on data changes (`trigger: {on: data}`), with Prefect's own machinery: a watcher deployment polls the
pipeline's sources; a change emits one `modelmill.data.changed` event per changed source, and the pipeline's
deployment trigger turns the events of one change into one run.

What the watcher knows lives in a Prefect Variable per pipeline (`modelmill-data-<pipeline>`): the data the last run
used (each run records it when it starts) and the change it saw last, with when it first saw it (the debounce).
- Unchanged data, compared with the last run that used it, starts nothing.
- A change starts a run once it has stayed unchanged for `debounce` (a burst of uploads is one change).
- The events of one change carry its id (the data it changes from and to, and how many changes came before), and
  the trigger counts one firing per id: the same change announced a hundred times (a retried poll, two polls at
  once, a second watcher) starts one run, as a run key does.
- A run of the pipeline that is waiting to start reads the data when it starts: no second run is queued behind it,
  and the pipeline's deployment runs one run at a time, so a change during a retrain starts one run after it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel

from modelmill.data.identity import data_identity
from modelmill.storage.artifacts import stable_hash

EVENT = "modelmill.data.changed"
CHANGE_LABEL = "modelmill.data.change"
DEDUPE_WINDOW = timedelta(days=1)  # one firing per change id within it


def resource_id(pipeline: str) -> str:
    return f"modelmill.data.{pipeline}"


def variable_name(pipeline: str) -> str:
    return f"modelmill-data-{pipeline}"


class WatchState(BaseModel):
    """What the watcher of one pipeline knows between polls."""

    used: str = ""  # identity of the data the last run used, or that a change started a run for
    sources: dict[str, str] = {}  # each source's identity then
    seen: str = ""  # identity seen at the last poll
    seen_at: float = 0.0  # when `seen` was first seen (epoch seconds)
    change: str = ""  # id of the last change announced
    changes: int = 0  # how many changes were announced: A -> B -> A -> B is three changes, three ids


Action = Literal["baseline", "unchanged", "waiting", "start"]


@dataclass(frozen=True)
class Decision:
    state: WatchState
    action: Action
    message: str
    changed: tuple[str, ...] = ()  # the sources whose identity differs from the data last used

    @property
    def identity(self) -> str:
        return self.state.seen


def decide(state: WatchState, sources: dict[str, str], now: float, debounce: float) -> Decision:
    """What one poll does, given the sources' identities now."""
    identity = data_identity(sources)
    if identity != state.seen:
        state = state.model_copy(update={"seen": identity, "seen_at": now})
    if not state.used:
        state = state.model_copy(update={"used": identity, "sources": sources})
        return Decision(state, "baseline", f"watching {len(sources)} source(s) from data {identity}; the next change "
                        "starts a run")
    if identity == state.used:
        return Decision(state, "unchanged", f"data {identity} is what the last run used: nothing to do")
    changed = tuple(source for source, value in sources.items() if state.sources.get(source) != value)
    quiet = now - state.seen_at
    if quiet < debounce:
        return Decision(state, "waiting", f"data changed to {identity} ({', '.join(changed) or 'a source removed'}) "
                        f"{quiet:.0f} s ago: starting a run once it has been unchanged for {debounce:.0f} s", changed)
    # the id is the change itself (from what data, to what data, how many changes before): two polls that read the
    # same state at once (serve starts overdue polls together) announce one id, and the trigger starts one run
    change = stable_hash(state.used, identity, state.changes, length=12)
    state = state.model_copy(update={"used": identity, "sources": sources, "change": change,
                                     "changes": state.changes + 1})
    return Decision(state, "start", f"data changed to {identity} ({', '.join(changed) or 'a source removed'}): "
                    f"starting a run (change {change})", changed)


def read_state(pipeline: str) -> WatchState:
    from prefect.variables import Variable

    value = Variable.get(variable_name(pipeline), default=None)
    if not value:
        return WatchState()
    return WatchState.model_validate(json.loads(value) if isinstance(value, str) else value)


def write_state(pipeline: str, state: WatchState) -> None:
    from prefect.variables import Variable

    Variable.set(variable_name(pipeline), state.model_dump(mode="json"), overwrite=True)


def record_use(pipeline: str, sources: dict[str, str]) -> None:
    """A run of `pipeline` is using this data: the watcher compares later changes with it."""
    state = read_state(pipeline)
    identity = data_identity(sources)
    write_state(pipeline, state.model_copy(update={"used": identity, "sources": sources}))


def announce(pipeline: str, decision: Decision) -> None:
    """One `modelmill.data.changed` event per changed source, all carrying the change's id and the new identity."""
    from prefect.events import emit_event

    for source in decision.changed or ("(removed)",):
        emit_event(
            event=EVENT,
            resource={"prefect.resource.id": resource_id(pipeline), "prefect.resource.name": pipeline,
                      CHANGE_LABEL: decision.state.change, "modelmill.data.identity": decision.identity},
            related=[{"prefect.resource.id": f"modelmill.data-source.{stable_hash(source, length=12)}",
                      "prefect.resource.role": "data-source", "prefect.resource.name": source}],
            payload={"change": decision.state.change, "identity": decision.identity, "source": source,
                     "source_identity": decision.state.sources.get(source, "")},
        )


def waiting_run(deployment_id: Any) -> str | None:
    """The name of a run of the deployment that is due and has not started (it will read the data when it
    starts), or None."""
    from datetime import datetime, timezone

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    due = datetime.now(timezone.utc) + timedelta(seconds=5)
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            deployment_id=FlowRunFilterDeploymentId(any_=[deployment_id]),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED, StateType.PENDING])),
        ), limit=50)
    return next((run.name for run in runs if run.expected_start_time is None or run.expected_start_time <= due), None)


def deployment_trigger(pipeline: str, parameters: dict[str, Any]) -> Any:
    """The trigger of the pipeline's deployment: one run per change id (a change's events count once)."""
    from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger

    return DeploymentEventTrigger(
        name=f"data-{pipeline}",
        description=f"Retrain {pipeline} when its data changes (modelmill's watcher emits {EVENT})",
        expect={EVENT},
        match={"prefect.resource.id": resource_id(pipeline)},
        for_each={CHANGE_LABEL},
        posture="Reactive",
        threshold=1,
        within=DEDUPE_WINDOW,
        parameters={**parameters, "note": "data changed (change {{ event.payload.change }})"},
    )
