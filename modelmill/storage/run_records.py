"""One small record per run under `<home>/runs/<pipeline>/`: when it ran, how it ended, the artifact folders it
used or made, and what it released. `modelmill gc` keeps what the last runs, the releases and the running runs
point at."""

from __future__ import annotations

import json
import os
import socket
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from modelmill.storage.settings import get_settings

RUNNING = "running"
ENDED_WELL = ("completed", "not promoted")  # the run worked (a run that was not promoted worked too)


class Release(BaseModel):
    repo_id: str
    tag: str | None
    commit: str | None


class RunRecord(BaseModel):
    """A run as `modelmill gc` sees it."""

    pipeline: str
    run_id: str
    started: str
    finished: str | None = None
    status: str = RUNNING
    host: str = Field(default_factory=socket.gethostname)
    pid: int = Field(default_factory=os.getpid)
    spec_hash: str = Field("", description="The resolved spec's hash: a finished run of it means a re-run may be "
                           "all cache hits.")
    artifacts: list[str] = Field(default_factory=list, description="Output folders, relative to <home>/artifacts.")
    release: Release | None = None
    figures: dict[str, Any] = Field(
        default_factory=dict, description="Test metrics, training throughput and each stage's seconds of work."
    )


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


def records_dir(home: Path | None = None) -> Path:
    return (home.resolve() if home else get_settings().local_home) / "runs"


def record_path(record: RunRecord, home: Path | None = None) -> Path:
    return records_dir(home) / record.pipeline / f"{record.started}-{record.run_id}.json"


def start_record(pipeline: str, run_id: Any = None, spec_hash: str = "") -> RunRecord:
    """Record a run that starts now (status running)."""
    record = RunRecord(pipeline=pipeline, run_id=str(run_id or uuid.uuid4().hex), started=now(), spec_hash=spec_hash)
    write_record(record)
    return record


def write_record(record: RunRecord, home: Path | None = None) -> None:
    """Write (or replace) a record whole: a reader never sees half of one."""
    path = record_path(record, home)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    scratch.write_text(record.model_dump_json(indent=1), encoding="utf-8")
    os.replace(scratch, path)


def read_records(home: Path | None = None, pipeline: str = "*") -> list[RunRecord]:
    """Every readable record (of `pipeline`, or of all), newest first within each pipeline."""
    records = []
    for path in sorted(records_dir(home).glob(f"{pipeline}/*.json"), reverse=True):
        try:
            records.append(RunRecord.model_validate(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    return records


def ran_before(pipeline: str, spec_hash: str) -> bool:
    """Whether a run of this pipeline with this spec hash ended without an error here (its stages may be cached)."""
    return any(record.spec_hash == spec_hash and record.status in ENDED_WELL for record in read_records(
        pipeline=pipeline))


def artifact_folder(path: Path, artifacts: Path) -> str | None:
    """The output folder (`<stage>/<key>/<run>`) a path lies in, relative to `artifacts`; None outside it."""
    if not path.is_absolute():  # under a remote home: artifacts/<stage>/<key>/<run>
        parts = path.parts[1:] if path.parts[:1] == ("artifacts",) else ()
        return "/".join(parts[:3]) if len(parts) >= 3 else None
    try:
        parts = path.resolve().relative_to(artifacts.resolve()).parts
    except ValueError:
        return None
    return "/".join(parts[:3]) if len(parts) >= 3 else None


def paths_in(value: Any) -> list[Path]:
    """Every `Path` held by a result (a manifest and the models inside it)."""
    if isinstance(value, Path):
        return [value]
    if isinstance(value, BaseModel):
        return [path for field in value.__class__.model_fields for path in paths_in(getattr(value, field))]
    if isinstance(value, (list, tuple)):
        return [path for item in value for path in paths_in(item)]
    if isinstance(value, dict):
        return [path for item in value.values() for path in paths_in(item)]
    return []
