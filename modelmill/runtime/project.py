"""Where a deployment's runs start: the project folder on the worker's host, whatever folder it was deployed from.

A deployment names no path of the deploying host. Its pull step enters the folder `MODELMILL_PROJECT_ROOT` names
on the worker, else the folder the worker was started in (its shell's `PWD`: a process worker runs each flow in
a temporary folder); that folder must hold the pipelines file.
"""

from __future__ import annotations

import os
from pathlib import Path

from modelmill.runtime.errors import ConfigError

PROJECT_ROOT = "MODELMILL_PROJECT_ROOT"
PULL_STEP = "modelmill.runtime.project.enter_project"


def project_root(pipelines_file: str) -> Path:
    """The folder a run of this host starts in: MODELMILL_PROJECT_ROOT, else the folder the worker was started in."""
    declared = os.environ.get(PROJECT_ROOT)
    candidates = [declared] if declared else [os.environ.get("PWD"), os.getcwd()]
    for candidate in filter(None, candidates):
        root = Path(candidate).expanduser().resolve()
        if (root / pipelines_file).is_file():
            return root
    tried = ", ".join(str(Path(c).expanduser()) for c in filter(None, candidates))
    raise ConfigError(
        f"no {pipelines_file} in {tried}: start the worker in the project folder, or set {PROJECT_ROOT} on the "
        "worker to the folder of a checkout of the project on its host"
    )


def enter_project(pipelines_file: str = "pipelines.yaml") -> dict[str, str]:
    """Prefect pull step: make the project folder the working directory of the run (like Prefect's
    `set_working_directory`, whose output it returns)."""
    root = project_root(pipelines_file)
    os.chdir(root)
    return {"directory": str(root)}
