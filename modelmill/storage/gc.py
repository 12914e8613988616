"""`modelmill gc`: remove what no kept run needs, so a home that retrains every week does not fill its disk.

Kept: the artifact folders that the last N runs of each pipeline, every run that released a model, and every run
still running point at, with the Prefect cache records that point at them. Removed: every other output folder
and cache record (a later run with those inputs recomputes), scratch of dead processes, training checkpoints
older than a few days (a crashed run resumes from them meanwhile), and run records past the retention.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelmill.storage.artifacts import SCRATCH_MARK, dead_scratch, pid_alive
from modelmill.storage.run_records import (
    ENDED_WELL,
    RUNNING,
    RunRecord,
    artifact_folder,
    paths_in,
    read_records,
    record_path,
)
from modelmill.storage.settings import get_settings

RUNNING_GRACE_SECONDS = 24 * 3600  # a run recorded as running on another host counts as running this long
MIN_AGE_SECONDS = 3600  # nothing younger is removed: a run may be writing it, or about to record it


@dataclass
class Plan:
    """What gc keeps (and why) and removes, with the bytes each removal frees."""

    keep: dict[str, str] = field(default_factory=dict)  # artifact folder -> why
    remove: list[tuple[Path, int]] = field(default_factory=list)

    @property
    def freed(self) -> int:
        return sum(size for _, size in self.remove)


def size_of(path: Path) -> int:
    """Bytes a folder or file holds on disk (hard-linked files counted once per folder)."""
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    seen: set[tuple[int, int]] = set()
    total = 0
    for child in path.rglob("*"):
        stat = child.lstat()
        if child.is_file() and (stat.st_dev, stat.st_ino) not in seen:
            seen.add((stat.st_dev, stat.st_ino))
            total += stat.st_size
    return total


def is_running(record: RunRecord) -> bool:
    """A run whose record says running, and whose process is alive (this host) or recent (another host)."""
    if record.status != RUNNING:
        return False
    if record.host == socket.gethostname():
        return pid_alive(record.pid)
    started = time.mktime(time.strptime(record.started[:15], "%Y%m%dT%H%M%S")) - time.timezone
    return time.time() - started < RUNNING_GRACE_SECONDS


def kept_runs(records: list[RunRecord], keep_last: int) -> dict[str, str]:
    """Artifact folder -> why it is kept: the last runs of each pipeline that ended without an error, releases,
    running runs."""
    keep: dict[str, str] = {}
    finished: dict[str, int] = {}
    for record in records:  # newest first within each pipeline
        reason = None
        if is_running(record):
            reason = f"run {record.run_id[:8]} of {record.pipeline} is running"
        elif record.release is not None:
            reason = f"{record.release.repo_id} {record.release.tag or ''} was released from it".replace("  ", " ")
        elif record.status in ENDED_WELL:
            rank = finished[record.pipeline] = finished.get(record.pipeline, 0) + 1
            reason = f"one of the last {keep_last} runs of {record.pipeline}" if rank <= keep_last else None
        for folder in record.artifacts if reason else []:
            keep.setdefault(folder, reason)
    return keep


def record_folders(path: Path, artifacts: Path) -> set[str] | None:
    """The artifact folders a Prefect result record points at; None when it cannot be read as one."""
    from prefect._internal.result_records import ResultRecord

    try:
        record: Any = ResultRecord.deserialize(path.read_bytes())
        result = record.result
    except Exception:  # a lock, a partial write, a result of another version: not ours to judge
        return None
    return {folder for p in paths_in(result) if (folder := artifact_folder(p, artifacts)) is not None}


def plan(home: Path, keep_last: int, checkpoint_days: float, min_age: float = MIN_AGE_SECONDS) -> Plan:
    """What gc would do to `home` now; nothing younger than `min_age` seconds is removed."""
    artifacts, results = home / "artifacts", home / "prefect-results"
    records = read_records(home)
    result = Plan(keep=kept_runs(records, keep_last))
    now = time.time()

    def old(path: Path, seconds: float = min_age) -> bool:
        return path.lstat().st_mtime < now - seconds

    for path in sorted(results.iterdir()) if results.is_dir() else []:
        folders = record_folders(path, artifacts)
        unused = folders is not None and not folders & set(result.keep)
        if unused and old(path) and (folders or old(path, checkpoint_days * 86400)):
            result.remove.append((path, size_of(path)))
    for key_folder in sorted(artifacts.glob("*/*")) if artifacts.is_dir() else []:
        dead = set(dead_scratch(key_folder))
        for output in sorted(key_folder.iterdir()):
            name = f"{key_folder.parent.name}/{key_folder.name}/{output.name}"
            if SCRATCH_MARK in output.name:
                removable = output in dead
            elif output.name == "work":
                removable = old(output, checkpoint_days * 86400)
            else:
                removable = name not in result.keep and old(output)
            if removable:
                result.remove.append((output, size_of(output)))
    for record in records:
        if record.release is None and not is_running(record) and not set(record.artifacts) & set(result.keep):
            path = record_path(record, home)
            if old(path):
                result.remove.append((path, size_of(path)))
    return result


def collect(
    keep_last: int = 5, checkpoint_days: float = 7.0, dry_run: bool = False, min_age: float = MIN_AGE_SECONDS
) -> Plan:
    """Plan, and unless `dry_run`, remove; empty key folders go too."""
    home = get_settings().local_home
    result = plan(home, keep_last, checkpoint_days, min_age)
    if dry_run:
        return result
    for path, _ in result.remove:
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    for key_folder in (home / "artifacts").glob("*/*"):
        if key_folder.is_dir() and not any(key_folder.iterdir()):
            os.rmdir(key_folder)
    return result
