"""One Prefect deployment per pipeline of pipelines.yaml: served from this process, or deployed to a work pool.

A deployment names its pipeline and pipelines file (relative to the project folder); each run reads the file
when it starts, so an edited rule, threshold or data file takes effect at the next run without redeploying.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from deployments.alerts import sync_crash_alerts
from deployments.retire import retire_stale_deployments
from flows.finetune import finetune
from modelmill.errors import ConfigError
from modelmill.spec import PipelineSpec
from modelmill.spec_file import DEFAULT_FILE, load_pipelines

TAG = "modelmill"
ENTRYPOINT = "flows.finetune.finetune"  # a module path: workers import the installed flow from any folder


def project_relative(path: Path | str, what: str) -> str:
    """`path` relative to the working directory (the project folder runs start in); outside it is an error."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        raise ConfigError(
            f"{path}: the {what} must be inside the project folder ({Path.cwd()}); run modelmill serve/deploy "
            "from the folder that holds your pipelines file and flows/"
        ) from None


def deployment_settings(name: str, spec: PipelineSpec, pipelines_file: str) -> dict[str, Any]:
    """What serve and deploy share: name, parameters (the pipeline and its file, no spec), schedule, tags."""
    return {
        "name": name,
        "description": spec.description or None,
        "parameters": {"pipeline": name, "pipelines_file": pipelines_file},
        "schedules": [Cron(spec.schedule.cron, timezone=spec.schedule.timezone)] if spec.schedule else [],
        "tags": [TAG, name],
    }


def build_deployments(path: Path | str = DEFAULT_FILE) -> list[RunnerDeployment]:
    """Deployments for `serve`, named after the pipelines; the UI form is the flow's typed overrides."""
    pipelines_file = project_relative(path, "pipelines file")
    return [
        finetune.to_deployment(**deployment_settings(name, spec, pipelines_file))
        for name, spec in load_pipelines(path).pipelines.items()
    ]


def _finish(path: Path | str, deployment_ids: dict[str, UUID]) -> None:
    """Retire deployments of pipelines no longer in the file; (re)create the crash alerts of the others."""
    pipelines = load_pipelines(path).pipelines
    retire_stale_deployments(set(pipelines), project_relative(path, "pipelines file"))
    sync_crash_alerts({name: (deployment_ids[name], spec.notify) for name, spec in pipelines.items()})


def serve_pipelines(path: Path | str = DEFAULT_FILE) -> None:
    """Serve every pipeline's deployment from this process (needs a Prefect server: `prefect server start`)."""
    deployments = build_deployments(path)
    _finish(path, {deployment.name: deployment.apply() for deployment in deployments})
    serve(*deployments)


def ensure_process_pool(pool: str) -> None:
    """Create a process work pool named `pool` if the server has none of that name."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))


def deploy_pipelines(path: Path | str = DEFAULT_FILE, pool: str = "modelmill") -> dict[str, UUID]:
    """One deployment per pipeline on work pool `pool` (a process pool is created if missing).

    Workers start runs in this project folder, so relative paths mean the same there; `MODELMILL_HOME`, when set
    here, is passed to the runs so that every worker keeps artifacts and results in the same place.
    """
    pipelines_file = project_relative(path, "pipelines file")
    ensure_process_pool(pool)
    source = finetune.from_source(source=str(Path.cwd()), entrypoint=ENTRYPOINT)
    home = os.environ.get("MODELMILL_HOME")
    job_variables = {"env": {"MODELMILL_HOME": str(Path(home).resolve())}} if home else {}
    ids = {
        name: source.deploy(
            **deployment_settings(name, spec, pipelines_file),
            work_pool_name=pool,
            job_variables=job_variables,
            build=False,
            push=False,
            print_next_steps=False,
        )
        for name, spec in load_pipelines(path).pipelines.items()
    }
    _finish(path, ids)
    return ids
