"""Large stage outputs on disk: one folder per stage and key, written atomically."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from modelmill.settings import get_settings


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot hash {type(value).__name__}")


def stable_hash(*parts: Any, length: int = 16) -> str:
    """Hex digest of JSON-serialisable parts (pydantic models included), stable across runs."""
    payload = json.dumps(parts, sort_keys=True, default=_jsonable, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:length]


def files_fingerprint(paths: list[Path]) -> str:
    """sha256 over the names and bytes of `paths`, in order."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def stage_dir(stage: str, key: str) -> Path:
    """The folder that holds a stage's output for one cache key."""
    return get_settings().artifacts / stage / key


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a scratch folder that becomes `final` only if the block succeeds; never leave half a folder."""
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = final.with_name(f".{final.name}.tmp-{uuid.uuid4().hex[:8]}")
    scratch.mkdir()
    try:
        yield scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    scratch.rename(final)


def prefect_artifact_key(pipeline: str, kind: str) -> str:
    """A Prefect artifact key (lowercase letters, digits and dashes only)."""
    return f"{pipeline}-{kind}".lower().replace("_", "-")
