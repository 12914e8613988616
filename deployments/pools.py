"""Work pools for `modelmill deploy`: the pool each pipeline names (or the default one, created as a process pool
when missing) and job variables checked against the pool's base job template before anything is deployed."""

from __future__ import annotations

from typing import Any

from modelmill.config import PipelineSpec
from modelmill.runtime.errors import ConfigError

DEFAULT_POOL_TYPE = "process"


def read_pool(name: str, create: bool) -> Any:
    """The work pool `name`; a missing one is created as a process pool when `create`, else an error."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return client.read_work_pool(name)
        except ObjectNotFound:
            if not create:
                raise ConfigError(
                    f"work pool '{name}' does not exist on the server; create it first, e.g. prefect work-pool create "
                    f"{name} --type kubernetes --base-job-template deploy/kubernetes/base-job-template.json"
                ) from None
            client.create_work_pool(WorkPoolCreate(name=name, type=DEFAULT_POOL_TYPE,
                                                   base_job_template=default_template(DEFAULT_POOL_TYPE) or {}))
            return client.read_work_pool(name)


def default_template(pool_type: str) -> dict[str, Any] | None:
    """The base job template a worker of `pool_type` uses when its pool has none (None: type not installed)."""
    from prefect.workers.base import BaseWorker

    worker = BaseWorker.get_worker_class_from_type(pool_type)
    return worker.get_default_base_job_template() if worker is not None else None


def pool_variables(pool: Any) -> list[str]:
    """The job variables a pool's base job template defines (a pool saved without one: its worker's default)."""
    template = pool.base_job_template or default_template(pool.type)
    if template is None:
        raise ConfigError(f"work pool '{pool.name}' has no base job template and no worker of type '{pool.type}' "
                          "is installed here to tell its job variables; install the worker's package")
    return sorted(template.get("variables", {}).get("properties", {}))


def job_variables(where: str, spec: PipelineSpec, pool: Any, shared_env: dict[str, str]) -> dict[str, Any]:
    """The deployment's job variables: the pipeline's `deploy.job_variables`, its `deploy.image`, and the settings
    every run must share (in `env`). A name the pool's template does not define is an error naming the YAML path
    and the pool's variables (a stock pool would accept `gpus: 1` and do nothing with it)."""
    known = pool_variables(pool)
    declared = dict(spec.deploy.job_variables)
    if spec.deploy.image is not None:
        declared["image"] = spec.deploy.image
    for key in declared:
        if key not in known:
            path = f"{where}.deploy.image" if key == "image" and "image" not in spec.deploy.job_variables else (
                f"{where}.deploy.job_variables.{key}")
            raise ConfigError(
                f"{path}: work pool '{pool.name}' ({pool.type}) defines no job variable '{key}'; its variables: "
                f"{', '.join(known) or 'none'}"
            )
    if shared_env:
        if "env" not in known:
            raise ConfigError(f"{where}: work pool '{pool.name}' ({pool.type}) takes no `env` job variable, so runs "
                              "could not be told MODELMILL_HOME")
        declared["env"] = {**shared_env, **dict(declared.get("env") or {})}
    return declared
