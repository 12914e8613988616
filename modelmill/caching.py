"""Prefect cache policies: a stage re-runs only when what it depends on changes."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from prefect.cache_policies import INPUTS, CachePolicy
from prefect.context import TaskRunContext
from prefect.utilities.hashing import hash_objects

from modelmill.artifacts import files_fingerprint


class ModuleSource(CachePolicy):
    """Hash of the whole source file of the task, so that editing a helper beside it invalidates the cache."""

    def compute_key(
        self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str | None:
        source = Path(inspect.getsourcefile(task_ctx.task.fn) or "")
        return hash_objects(source.read_bytes()) if source.is_file() else None


class DataFilesContent(CachePolicy):
    """Hash of the bytes of the local data files named by the `spec` input (a `DataSpec`)."""

    def compute_key(
        self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str | None:
        paths = inputs["spec"].local_files()
        missing = [path for path in paths if not path.is_file()]
        # A missing file cannot be hashed: run the task, which reports it properly.
        return None if missing else files_fingerprint(paths)


class HubTokenPresence(CachePolicy):
    """Whether a Hub token is available (never the token): a dry run must not hide a later real push."""

    def compute_key(
        self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str | None:
        from modelmill.secrets import hub_token

        return "publish" if hub_token(inputs["spec"].token_secret_block) else "dry-run"


STAGE = INPUTS + ModuleSource()
"""Default policy of every stage: its inputs (spec section, upstream manifests) and its module's source."""
