"""One Prefect deployment per pipeline of pipelines.yaml: served from this process, or deployed to a work pool,
never both (the one that owns a pipeline's deployment keeps it: the other refuses and says why).

A deployment names its pipeline and pipelines file (relative to the project folder) and no path of this host; each
run enters the project folder of the worker's host and reads the file when it starts, so an edited rule,
threshold or data file takes effect at the next run without redeploying.

A pipeline with `trigger: {on: data}` gets a second deployment, `watch-data/<pipeline>`, that polls its data on
an interval schedule, and its own deployment gets the trigger that starts a run per change and runs one run at a
time (a change during a retrain starts one run after it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.runner.storage import LocalStorage
from prefect.schedules import Cron, Interval

from deployments.alerts import sync_crash_alerts
from deployments.pools import job_variables, read_pool
from deployments.retire import retire_stale_deployments
from flows.finetune import finetune
from flows.watch import watch_data
from modelmill.config import PipelineSpec
from modelmill.config.file import DEFAULT_FILE, load_pipelines
from modelmill.runtime.errors import ConfigError
from modelmill.runtime.project import PULL_STEP
from modelmill.storage.home import current_home

TAG = "modelmill"
ENTRYPOINT = "flows.finetune.finetune"  # a module path: workers import the installed flow from any folder
WATCH_ENTRYPOINT = "flows.watch.watch_data"
WATCHER_VARIABLES = ("image", "env")  # a watcher polls: it needs the image and the settings, not the GPUs


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
    """What serve and deploy share: name, parameters (the pipeline and its file, no spec), schedule, tags, and
    for a data trigger, the trigger and one run at a time."""
    from modelmill.runtime.data_trigger import deployment_trigger

    parameters = {"pipeline": name, "pipelines_file": pipelines_file}
    triggered = {"triggers": [deployment_trigger(name, parameters)], "concurrency_limit": 1} if spec.trigger else {}
    return {
        "name": name,
        "description": spec.description or None,
        "parameters": parameters,
        "schedules": [Cron(spec.schedule.cron, timezone=spec.schedule.timezone)] if spec.schedule else [],
        "tags": [TAG, name],
        **triggered,
    }


def watcher_settings(name: str, spec: PipelineSpec, pipelines_file: str) -> dict[str, Any]:
    """The `watch-data/<pipeline>` deployment of a pipeline with a data trigger: a poll on an interval."""
    assert spec.trigger is not None
    return {
        "name": name,
        "description": f"Watches the data of pipeline '{name}' every {spec.trigger.poll}; a change starts "
                       f"finetune/{name}",
        "parameters": {"pipeline": name, "pipelines_file": pipelines_file},
        "schedules": [Interval(spec.trigger.poll_seconds)],
        "tags": [TAG, name, "watcher"],
    }


def build_deployments(path: Path | str = DEFAULT_FILE) -> list[RunnerDeployment]:
    """Deployments for `serve`, named after the pipelines (and their data watchers); the UI form is the flow's
    typed overrides."""
    pipelines_file = project_relative(path, "pipelines file")
    pipelines = load_pipelines(path).pipelines
    return [
        *(finetune.to_deployment(**deployment_settings(name, spec, pipelines_file))
          for name, spec in pipelines.items()),
        *(watch_data.to_deployment(**watcher_settings(name, spec, pipelines_file))
          for name, spec in pipelines.items() if spec.trigger),
    ]


class ProjectFolder(LocalStorage):
    """The project as a deployment names it: by no path at all. Its pull step enters the project folder of the
    worker's host (`modelmill.runtime.project.enter_project`); the code comes from the installed package."""

    def __init__(self, pipelines_file: str) -> None:
        super().__init__(path=str(Path.cwd()))
        self.pipelines_file = pipelines_file

    def to_pull_step(self) -> dict[str, Any]:
        return {PULL_STEP: {"pipelines_file": self.pipelines_file}}


def owners(names: list[str]) -> dict[str, Any]:
    """Pipeline -> its existing `finetune/<pipeline>` deployment on the server."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    found = {}
    with get_client(sync_client=True) as client:
        for name in names:
            try:
                found[name] = client.read_deployment_by_name(f"{finetune.name}/{name}")
            except ObjectNotFound:
                continue
    return found


def refuse_pool_deployments(names: list[str]) -> None:
    """`serve` never takes over a deployment that a work pool runs (its schedule, its pull step, its home)."""
    pooled = {name: d.work_pool_name for name, d in owners(names).items() if d.work_pool_name}
    if pooled:
        listed = ", ".join(f"finetune/{name} (work pool '{pool}')" for name, pool in pooled.items())
        raise ConfigError(
            f"{listed} already run on a work pool (modelmill deploy): serving them here would take their schedules "
            "over. Keep the pool, or remove its deployments first (prefect deployment delete finetune/<pipeline>)"
        )


SERVE_GONE_AFTER = 90.0  # seconds without a poll: a `serve` process polls its deployments every 10 s


def refuse_served_deployments(names: list[str], announce: Any = print) -> None:
    """`deploy` never takes over a deployment that a live `modelmill serve` process is serving (no pool, not paused,
    polled lately); one that a stopped `serve` left paused is taken over, and so is one whose `serve` was killed
    (SIGKILL, a lost machine: it paused nothing and has not polled for SERVE_GONE_AFTER seconds)."""
    served = {name: d for name, d in owners(names).items() if not d.work_pool_name and not d.paused}
    live = {name: d for name, d in served.items() if seconds_since_poll(d) < SERVE_GONE_AFTER}
    for name in sorted(set(served) - set(live)):
        announce(f"Taking over finetune/{name}: the `modelmill serve` that served it has not polled for "
                 f"{seconds_since_poll(served[name]):.0f} s (stopped without pausing it: killed?)")
    if live:
        listed = ", ".join(f"finetune/{name}" for name in live)
        raise ConfigError(
            f"{listed} are served by a `modelmill serve` process (polled {min(map(seconds_since_poll, live.values())):.0f}"
            " s ago): stop it first (its deployments are paused when it stops), then deploy them to a work pool. "
            f"If that process is gone, deploy takes them over once it has not polled for {SERVE_GONE_AFTER:.0f} s, or "
            "now after `prefect deployment pause finetune/<pipeline>`"
        )


def seconds_since_poll(deployment: Any) -> float:
    """Seconds since a runner last polled `deployment` for runs (since it was written, if none ever did)."""
    from datetime import datetime, timezone

    seen = deployment.last_polled or deployment.updated
    return float("inf") if seen is None else (datetime.now(timezone.utc) - seen).total_seconds()


def _finish(path: Path | str, deployment_ids: dict[str, UUID]) -> list[str]:
    """Retire deployments of pipelines no longer in the file (returned); (re)create the crash alerts of the others."""
    pipelines = load_pipelines(path).pipelines
    pipelines_file = project_relative(path, "pipelines file")
    retired = retire_stale_deployments(set(pipelines), pipelines_file)
    retire_stale_deployments({name for name, spec in pipelines.items() if spec.trigger}, pipelines_file,
                             flow_name=watch_data.name)
    sync_crash_alerts({name: (deployment_ids[name], spec.notify) for name, spec in pipelines.items()})
    return retired


# what every run must agree on
SHARED_SETTINGS = ("MODELMILL_HOME", "MODELMILL_STORAGE_OPTIONS", "MODELMILL_LOCKS", "MODELMILL_RAY_ADDRESS")


SECRET_QUERY_KEYS = frozenset({"password", "pass", "pwd", "passwd", "auth", "token", "secret", "credential_provider"})


def holds_a_secret(url: str) -> bool:
    """Whether a URL carries a credential: `scheme://user:password@host`, or a query parameter such as
    `?password=` (which redis-py reads as the password)."""
    from urllib.parse import parse_qsl

    parts = urlsplit(url)
    return bool(parts.password) or any(key.casefold() in SECRET_QUERY_KEYS
                                       for key, _ in parse_qsl(parts.query, keep_blank_values=True))


def shared_settings(environ: Mapping[str, str], announce: Any = print) -> dict[str, str]:
    """The settings every run of a deployment must share, as set here. A lock URL with a password is not passed
    (job variables are stored on the server): the workers take it from their own environment."""
    shared = {name: environ[name] for name in SHARED_SETTINGS if environ.get(name)}
    locks = shared.get("MODELMILL_LOCKS")
    if locks and holds_a_secret(locks):  # a redeploy replaces the job variables: one stored before is gone too
        del shared["MODELMILL_LOCKS"]
        announce("MODELMILL_LOCKS holds a password, so it is not stored in the deployments: set it in the "
                 "workers' environment")
    return shared


def serve_pipelines(path: Path | str = DEFAULT_FILE, announce: Any = print) -> None:
    """Serve every pipeline's deployment from this process (needs a Prefect server: `prefect server start`)."""
    deployments = build_deployments(path)
    current_home().save_result_block()
    refuse_pool_deployments([deployment.name for deployment in deployments if deployment.flow_name == finetune.name])
    ids = {}
    for deployment in deployments:
        deployment_id = deployment.apply()
        if deployment.flow_name == finetune.name:
            ids[deployment.name] = deployment_id
    retired = _finish(path, ids)
    for name in retired:
        announce(f"Retired finetune/{name}: pipeline '{name}' is no longer in {path}")
    serve(*deployments)


def deploy_pipelines(path: Path | str = DEFAULT_FILE, pool: str = "modelmill") -> tuple[dict[str, UUID], list[str]]:
    """One deployment per pipeline on the work pool its `deploy.work_pool` names, else `pool` (created as a process
    pool if missing), with its image and job variables checked against the pool's template first; returns their
    ids and the pipelines retired (no longer in the file).

    Runs start in the project folder of the worker's host (MODELMILL_PROJECT_ROOT there, or the folder the worker
    started in), so relative paths mean the same there; `MODELMILL_HOME`, when set here, is passed to the runs as
    written (a relative home is relative to the project folder), so that every worker keeps artifacts and results
    in the same place; so are the home's storage options and lock manager (never credentials: workers take
    those from their own environment or role).
    """
    pipelines_file = project_relative(path, "pipelines file")
    pipelines = load_pipelines(path).pipelines
    refuse_served_deployments(list(pipelines))
    shared = shared_settings(os.environ)
    targets = {}
    for name, spec in pipelines.items():  # every pool and variable checked before anything is deployed
        target = read_pool(spec.deploy.work_pool or pool, create=spec.deploy.work_pool is None)
        targets[name] = (target.name, job_variables(f"{path}: {name}", spec, target, shared))
    source = finetune.from_source(source=ProjectFolder(pipelines_file), entrypoint=ENTRYPOINT)
    current_home().save_result_block()
    ids = {
        name: source.deploy(
            **deployment_settings(name, spec, pipelines_file),
            work_pool_name=targets[name][0],
            job_variables=targets[name][1],
            paused=False,
            build=False,
            push=False,
            print_next_steps=False,
        )
        for name, spec in pipelines.items()
    }
    watcher = watch_data.from_source(source=ProjectFolder(pipelines_file), entrypoint=WATCH_ENTRYPOINT)
    for name, spec in pipelines.items():
        if spec.trigger:
            watcher.deploy(**watcher_settings(name, spec, pipelines_file), work_pool_name=targets[name][0],
                           job_variables={key: value for key, value in targets[name][1].items()
                                          if key in WATCHER_VARIABLES},
                           paused=False, build=False, push=False, print_next_steps=False)
    return ids, _finish(path, ids)
