"""Prefect cache policies: a stage re-runs only when what it depends on changes, or its output is gone.

Every stage caches with SERIALIZABLE isolation: two runs computing one key take turns (the second ends Cached),
under `flock` locks that die with a killed holder.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect.cache_policies import CachePolicy
from prefect.context import TaskRunContext
from prefect.logging import get_logger
from prefect.utilities.hashing import hash_objects
from pydantic import BaseModel

from modelmill.storage.artifacts import stable_hash
from modelmill.storage.locks import HomeLocks

MAX_STALE_GENERATIONS = 20


def module_source_hash(fn: Any) -> str | None:
    """Hash of the whole source file that defines `fn` (None when it has no file); decorators are looked through."""
    source = Path(inspect.getsourcefile(inspect.unwrap(fn)) or "")
    return hash_objects(source.read_bytes()) if source.is_file() else None


class ModuleSource(CachePolicy):
    """Hash of the whole source file of the task, so that editing a helper beside it invalidates the cache."""

    def compute_key(
        self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str | None:
        return module_source_hash(task_ctx.task.fn)


class TaskTypeSource(CachePolicy):
    """Hash of the source of the task type module that the inputs' manifests name (`task`): how it tokenizes,
    builds, trains and scores is part of every stage after loading. None when no input names one."""

    def compute_key(
        self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str | None:
        from modelmill.task_types import task_type

        named = sorted({value.task for value in inputs.values()
                        if isinstance(value, BaseModel) and isinstance(getattr(value, "task", None), str)})
        return hash_objects(*[module_source_hash(type(task_type(name)).evaluate) for name in named]) if named else None


NOT_KEYED = frozenset({"tracking"})  # what observes a stage (where its curves are logged) never changes its key


class PortableInputs(CachePolicy):
    """The task's inputs with every path made portable: a data or rule file by its name and content, an output by
    its place under the home. Two checkouts of one project in different folders share one cache; an edited data
    file is a new key."""

    def compute_key(
        self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str | None:
        return stable_hash({name: value for name, value in inputs.items() if name not in NOT_KEYED}, length=32)


class HubTokenPresence(CachePolicy):
    """Whether the push can publish (a token, Hub not offline), never the token: a dry run must not hide a
    later real push."""

    def compute_key(
        self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str | None:
        from modelmill.storage.secrets import push_credentials

        token, _ = push_credentials(inputs["spec"].token_secret_block)
        return "publish" if token else "dry-run"


def missing_paths(result: Any) -> list[Path]:
    """The `Path` fields of a manifest that point at nothing: not on disk, or not published in full under a
    remote home (no completion marker)."""
    from modelmill.storage.home import exists

    if not isinstance(result, BaseModel):
        return []
    paths = [value for value in dict(result).values() if isinstance(value, Path)]
    return [path for path in paths if not exists(path)]


@dataclass
class LiveArtifacts(CachePolicy):
    """Wraps a policy: a cache record whose artifacts were deleted is not a hit; the stage runs again.

    The stale record is left alone (it may live on storage we cannot delete from); the key moves on to a
    derived one, deterministically, so the re-computed result is itself cached.
    """

    inner: CachePolicy | None = None

    def compute_key(
        self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str | None:
        assert self.inner is not None
        key = self.inner.compute_key(task_ctx, inputs, flow_parameters, **kwargs)
        store = task_ctx.result_store
        for _ in range(MAX_STALE_GENERATIONS):
            if key is None or not store.exists(key):
                return key
            gone = missing_paths(store.read(key).result)
            if not gone:
                return key
            get_logger("modelmill.storage.caching").warning(
                "Cached result of %s points at %s, which no longer exists: running the stage again",
                task_ctx.task.name, gone[0],
            )
            key = hash_objects(key, "stale")
        return None


LOCKS = HomeLocks()


def stage_policy(*extra: CachePolicy) -> CachePolicy:
    """A stage's policy: its inputs (spec section, upstream manifests, the content of the files they name), its
    module's source, its task type's module's source, and `extra`."""
    inner = PortableInputs() + ModuleSource() + TaskTypeSource()
    for policy in extra:
        inner = inner + policy
    return LiveArtifacts(inner=inner, isolation_level="SERIALIZABLE", lock_manager=LOCKS)


STAGE = stage_policy()
"""Default policy of every stage."""
