"""Large stage outputs on disk: one folder per stage and key, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from modelmill.storage.locks import check_lease
from modelmill.storage.settings import get_settings
from modelmill.storage.urls import DataFolder, DataURL

SCRATCH_MARK = ".tmp-"


_FINGERPRINTS: dict[tuple[str, int, int], str] = {}


def file_identity(path: Path) -> str:
    """A file by its name and content, never by where it sits: two checkouts of a project agree. Remembered per
    path, size and modification time, so a large data file is read once per process."""
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo not in _FINGERPRINTS:
        _FINGERPRINTS[memo] = files_fingerprint([path])
    return f"file:{path.name}:{_FINGERPRINTS[memo]}"


def portable_path(path: Path) -> str:
    """What a path means, independent of the folder the project or the home sits in: an output under the home by
    its place there, a file by its name and content, anything else by its name."""
    if not path.is_absolute():  # an output under a remote home, named by its place there
        return f"home:{path.as_posix()}"
    home = get_settings().local_home
    try:
        return f"home:{path.resolve().relative_to(home).as_posix()}"
    except ValueError:
        pass
    if path.is_file():
        return file_identity(path)
    return f"missing:{path.name}" if not path.exists() else f"folder:{path.name}"


def portable(value: Any) -> Any:
    """`value` as JSON-ready data whose paths are portable (see `portable_path`): what identities are hashed from."""
    if isinstance(value, BaseModel):
        return portable(value.model_dump(mode="python", by_alias=False))
    if isinstance(value, DataFolder):  # by the names and contents of its data files
        from modelmill.storage.folders import folder_identity

        return folder_identity(value)
    if isinstance(value, Path):
        return portable_path(value)
    if isinstance(value, DataURL):  # by its name and the object's checksum, never a download
        from modelmill.storage.remote_files import url_identity

        return url_identity(value)
    if isinstance(value, dict):
        return {str(key): portable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [portable(item) for item in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "value"):  # an Enum
        return portable(value.value)
    return str(value)


def stable_hash(*parts: Any, length: int = 16) -> str:
    """Hex digest of `parts` (pydantic models included), stable across runs, machines and project folders."""
    payload = json.dumps(portable(list(parts)), sort_keys=True, separators=(",", ":"))
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
    """The local folder that holds a stage's outputs (and working folders) for one cache key."""
    return get_settings().artifacts / stage / key


def new_output_dir(stage: str, key: str) -> Path:
    """A fresh, not yet existing place for one run's output of a stage: published outputs are never rewritten.
    Under a local home, its absolute path; under a remote one, its place relative to the home."""
    from modelmill.storage.home import current_home

    name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"
    if current_home().remote:
        return Path("artifacts") / stage / key / name
    return stage_dir(stage, key) / name


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def scratch_name(name: str) -> str:
    """A scratch sibling of `name` that says which process on which host owns it."""
    return f".{name}{SCRATCH_MARK}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def dead_scratch(folder: Path) -> list[Path]:
    """Scratch entries in `folder` left by killed processes of this host."""
    host = socket.gethostname()
    dead = []
    for entry in folder.glob(f".*{SCRATCH_MARK}{host}-*") if folder.is_dir() else []:
        pid = entry.name.rsplit(SCRATCH_MARK + host + "-", 1)[1].split("-", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            dead.append(entry)
    return dead


def sweep_dead_scratch(folder: Path) -> list[Path]:
    """Remove scratch entries in `folder` left by killed processes of this host; return what was removed."""
    removed = dead_scratch(folder)
    for entry in removed:
        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
    return removed


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a scratch folder that becomes `final` only if the block succeeds; never leave half a folder.

    `final` must not exist yet: a published folder is never replaced. Scratch of killed writers is swept first.
    A `final` relative to a remote home is uploaded there, its completion marker last, then kept in this
    machine's read cache.
    """
    remote = not final.is_absolute()
    if remote:
        from modelmill.storage.home import current_home

        home, relative, final = current_home(), final, current_home().local / final
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep_dead_scratch(final.parent)
    if final.exists():
        raise FileExistsError(f"{final} is already published; outputs are never overwritten")
    scratch = final.with_name(scratch_name(final.name))
    scratch.mkdir()
    try:
        yield scratch
        check_lease()  # a stage whose cache-key lock lapsed while it worked publishes nothing
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if remote:
        try:
            home.publish(scratch, relative)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
    scratch.rename(final)


def made_once(final: Path, make: Callable[[Path], None]) -> Path:
    """`final` (a local folder), made by `make(scratch)` only if it does not exist yet: processes of this machine
    that need it at once wait on a lock for the one making it (released when its file closes, or its process
    dies), and none reads half a folder (`atomic_dir`)."""
    import fcntl

    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with (final.parent / f".{final.name}.making.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not final.is_dir():
            with atomic_dir(final) as scratch:
                make(scratch)
    return final


def _link_or_copy(source: str | Path, target: str | Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another filesystem, or links not supported: a copy
        shutil.copy2(source, target)


def link_tree(source: Path, target: Path, skip: tuple[str, ...] = ()) -> None:
    """`target` made of hard links to the files of `source` (a file or a folder), copies where a link cannot be
    made: a published output is never rewritten, so a link costs no disk. To change a linked file, replace it."""
    if source.is_file():
        _link_or_copy(source, target)
        return
    shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*skip),
                    copy_function=_link_or_copy)


def prefect_artifact_key(pipeline: str, kind: str) -> str:
    """A Prefect artifact key (lowercase letters, digits and dashes only)."""
    return f"{pipeline}-{kind}".lower().replace("_", "-")
