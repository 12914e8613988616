"""The local read cache of a remote home: published outputs downloaded once per machine, least recently used
evicted past a size limit (MODELMILL_CACHE_MAX_GB). A published prefix never changes, so a copy never goes stale."""

from __future__ import annotations

import shutil
from pathlib import Path

from modelmill.storage.home import OUTPUT_DEPTH, Home


def cached_outputs(home: Home) -> list[Path]:
    """The published outputs this machine holds a copy of."""
    pattern = "artifacts/" + "/".join(["*"] * (OUTPUT_DEPTH - 1))  # artifacts/<stage>/<key>/<output>
    return [path for path in home.local.glob(pattern) if path.is_dir() and not path.name.startswith(".")]


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def touch(folder: Path) -> None:
    """Mark a cached output as just used."""
    folder.touch(exist_ok=True)


def make_room(home: Home, limit_bytes: int | None = None) -> list[Path]:
    """Evict least recently used copies until the cache is under its limit; return what was removed. Copies of
    this machine's own outputs are evicted the same way: the home keeps the original."""
    if limit_bytes is None:
        from modelmill.storage.settings import get_settings

        limit_gb = get_settings().cache_max_gb
        if limit_gb is None:
            return []
        limit_bytes = int(limit_gb * 1024**3)
    outputs = sorted(cached_outputs(home), key=lambda path: path.stat().st_mtime)
    sizes = {path: folder_bytes(path) for path in outputs}
    total = sum(sizes.values())
    removed = []
    for path in outputs:
        if total <= limit_bytes:
            break
        shutil.rmtree(path, ignore_errors=True)
        total -= sizes[path]
        removed.append(path)
    return removed
