"""Fixtures for flow tests: run the flow on a written pipelines.yaml and read back how each stage ended."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.sorting import TaskRunSort

from flows.finetune import finetune

STAGES = ["load_data", "validate_data", "tokenize", "train", "evaluate", "push"]


@pytest.fixture
def run(write_pipelines) -> Callable[..., tuple[Any, dict[str, str]]]:
    """Write the pipeline to a pipelines.yaml and run the flow on it; return the final state and the state name
    of each stage's task run."""

    def run_flow(spec: dict[str, Any], **overrides: Any) -> tuple[Any, dict[str, str]]:
        path = write_pipelines({"tiny": spec})
        state = finetune(pipeline="tiny", pipelines_file=str(path), return_state=True, **overrides)
        return state, stage_states(state)

    return run_flow


def stage_states(state: Any) -> dict[str, str]:
    """Stage name -> state name of its task run in the flow run that ended in `state`. Task runs and their states
    reach the API as events, after the flow has returned: the events still queued here are sent first, then the
    read is repeated (a while) until every stage has its final state and no new stage has appeared for three reads
    in a row (the server records events in the background: a late stage may be missing, not only Pending)."""
    import time

    from prefect.events.worker import EventsWorker

    from tests.patience import patient

    EventsWorker.drain_all(timeout=patient(15))
    deadline, seen = time.monotonic() + patient(15), []
    with get_client(sync_client=True) as client:
        while True:
            task_runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,  # Prefect 3.8's server rejects the client's None defaults
                limit=50,
            )
            final = all(run.state is not None and run.state.is_final() for run in task_runs)
            seen = [*seen, len(task_runs) if final else -1][-3:]
            if (len(seen) == 3 and len(set(seen)) == 1 and seen[0] >= 0) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    # a stage of another pipeline the run builds first is named as such (tiny-mlm/train), others get a suffix
    return {task_run.name if "/" in task_run.name else task_run.name.rsplit("-", 1)[0]: task_run.state.name
            for task_run in task_runs}


def run_artifacts(state: Any) -> list[Any]:
    """The artifacts the flow run that ended in `state` created."""
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])),
            limit=50,
        )
