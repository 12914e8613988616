"""The data watcher of a pipeline with `trigger: {on: data}`: one short run per poll (an interval schedule of its
own deployment, `watch-data/<pipeline>`) that announces a change of the pipeline's data as Prefect events; the
pipeline's deployment trigger starts the retraining run (modelmill.runtime.data_trigger says how)."""

from __future__ import annotations

import time

from prefect import flow
from prefect.logging import get_run_logger

from modelmill.config.file import load_pipeline
from modelmill.data.identity import source_identities
from modelmill.runtime.data_trigger import announce, decide, read_state, waiting_run, write_state

FINETUNE = "finetune"


@flow(name="watch-data", validate_parameters=True)
def watch_data(pipeline: str, pipelines_file: str = "pipelines.yaml") -> str:
    """Look at one pipeline's data sources once; announce a change that has settled.

    Args:
        pipeline: Name of the pipeline in the pipelines file.
        pipelines_file: The pipelines file, read when the run starts (relative to the project folder).
    """
    from prefect.client.orchestration import get_client

    logger = get_run_logger()
    spec = load_pipeline(pipeline, pipelines_file)
    if spec.trigger is None:
        message = f"pipeline '{pipeline}' of {pipelines_file} has no data trigger now: nothing watched"
        logger.warning(message)
        return message
    state = read_state(pipeline)
    decision = decide(state, source_identities(spec.data), time.time(), spec.trigger.debounce_seconds)
    if decision.action == "start":
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name(f"{FINETUNE}/{pipeline}")
        if waiting := waiting_run(deployment.id):
            message = f"data changed to {decision.identity}: run {waiting} is about to start and will read it"
            logger.info(message)
            write_state(pipeline, state.model_copy(update={"seen": decision.state.seen,
                                                           "seen_at": decision.state.seen_at}))
            return message
    write_state(pipeline, decision.state)
    if decision.action == "start":
        announce(pipeline, decision)
    logger.info(decision.message)
    return decision.message
