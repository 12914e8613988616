"""Where a deployment's runs start: the project folder on the worker's host, whatever folder it was deployed from.

A deployment names no path of the deploying host. Its pull step enters the folder `MODELMILL_PROJECT_ROOT` names
on the worker, or the folder the worker started in; either must hold the pipelines file.
"""

from __future__ import annotations

import os
from pathlib import Path

from modelmill.errors import ConfigError

PROJECT_ROOT = "MODELMILL_PROJECT_ROOT"
PULL_STEP = "modelmill.runtime.project.enter_project"


def enter_project(pipelines_file: str = "pipelines.yaml") -> dict[str, str]:
    """Prefect pull step: make the project folder the working directory of the run (like Prefect's
    `set_working_directory`, whose output it returns)."""
    root = Path(os.environ.get(PROJECT_ROOT) or os.getcwd()).expanduser().resolve()
    if not (root / pipelines_file).is_file():
        raise ConfigError(
            f"{root}: no {pipelines_file} here; start the worker in the project folder, or set {PROJECT_ROOT} to the "
            "folder of a checkout of the project on this host"
        )
    os.chdir(root)
    return {"directory": str(root)}
