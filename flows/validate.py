"""The validation-only flow: load and check the data of one pipeline, sharing the cache with `finetune`."""

from __future__ import annotations

from prefect import flow

from modelmill.config.overrides import RunOverrides
from modelmill.manifests import ValidationReport
from modelmill.observe.lifecycle import complete_record, start_run
from modelmill.observe.stages import StageLog
from tasks.load_data import load_data
from tasks.validate import validate_data


@flow(name="validate", validate_parameters=True)
def validate_pipeline(pipeline: str, pipelines_file: str = "pipelines.yaml") -> ValidationReport:
    """Load and validate one pipeline's data, without training.

    Args:
        pipeline: Name of the pipeline in the pipelines file.
        pipelines_file: The pipelines file, read when the run starts (relative to the project folder).
    """
    run = start_run(pipeline, pipelines_file, RunOverrides())
    stage = StageLog(run.spec.retries, run.record)
    try:
        data = stage(load_data, run.spec.data, run.spec.task, run.spec.validation.checks.overlap.dropping)
        report = stage(validate_data, data, run.spec.validation, pipeline)
    except BaseException as exc:
        complete_record(run, stage, error=f"{type(exc).__name__}: {exc}")
        raise
    complete_record(run, stage)
    return report
