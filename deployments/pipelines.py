"""One Prefect deployment per pipeline of pipelines.yaml, with its cron schedule and its spec as parameters."""

from __future__ import annotations

from pathlib import Path

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from flows.finetune import finetune
from modelmill.spec_file import DEFAULT_FILE, load_pipelines


def build_deployments(path: Path | str = DEFAULT_FILE) -> list[RunnerDeployment]:
    """Deployments named after the pipelines; the UI form is rendered from the typed `PipelineSpec` parameter."""
    deployments = []
    for name, spec in load_pipelines(path).pipelines.items():
        schedules = [Cron(spec.schedule.cron, timezone=spec.schedule.timezone)] if spec.schedule else []
        deployments.append(
            finetune.to_deployment(
                name=name,
                description=spec.description or None,
                parameters={"pipeline_name": name, "pipeline": spec.model_dump(mode="json")},
                schedules=schedules,
                tags=["modelmill", name],
            )
        )
    return deployments


def serve_pipelines(path: Path | str = DEFAULT_FILE) -> None:
    """Serve every pipeline's deployment from this process (needs a Prefect server: `prefect server start`)."""
    serve(*build_deployments(path))
