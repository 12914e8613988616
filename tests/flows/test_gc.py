"""`modelmill gc` on a home filled by real runs: it keeps what the last runs, the releases and the running runs
use, removes the rest with its cache records, and a run of a removed model's inputs computes it again."""

from __future__ import annotations

import os

import pytest

from modelmill.cli import main
from modelmill.storage.gc import collect
from modelmill.storage.run_records import RunRecord, read_records, start_record, write_record
from modelmill.storage.settings import get_settings
from tests.conftest import pipeline_dict


@pytest.fixture
def home(own_home):
    return get_settings().local_home


def models(home) -> set[str]:
    """The trained models in the home, as `train/<key>/<run>` folders."""
    root = home / "artifacts"
    return {path.parent.relative_to(root).as_posix() for path in (root / "train").glob("*/*/model.safetensors")}


def folder(home, model_path) -> str:
    return model_path.relative_to(home / "artifacts").as_posix()


def test_gc_keeps_the_last_runs_the_releases_and_running_runs_and_removes_the_rest(
    prefect, run, hub, hub_token, home, tiny_model_dir, review_files, capsys
):
    spec = pipeline_dict(tiny_model_dir, review_files, hub.url)
    # given a released model, then three retrains (dry runs) with other learning rates
    released, _ = run(spec)
    assert released.result().push.tag == "v1"
    retrains = {}
    for rate in (1e-3, 2e-3, 3e-3):
        state, _ = run(spec, learning_rate=rate, dry_run=True)
        retrains[rate] = folder(home, state.result().model_path)
    assert len(models(home)) == 4
    oldest = retrains[1e-3]
    # and a run still going that uses the oldest retrain's model
    running = start_record("tiny")
    write_record(running.model_copy(update={"artifacts": [oldest]}))
    # when gc keeps the last 2 runs, listing first
    assert main(["gc", "--keep-last", "2", "--dry-run"]) == 0
    assert "Would remove" in capsys.readouterr().out and len(models(home)) == 4
    plan = collect(keep_last=2, min_age=0)
    # then the released model, the last two retrains and the running run's model are all kept
    assert models(home) == {folder(home, released.result().model_path), *retrains.values()}
    assert any("released" in why for why in plan.keep.values()) and any("running" in why for why in plan.keep.values())
    # when that run ends and gc runs again, the oldest retrain goes, with its cache records
    write_record(RunRecord.model_validate({**running.model_dump(), "status": "completed"}))
    plan = collect(keep_last=2, min_age=0)
    assert oldest not in models(home) and plan.freed > 0
    assert (home / "artifacts" / "data").exists(), "the data every run shares is kept"
    # and a run of its inputs trains again instead of pointing at nothing, and is then cached
    _, stages = run(spec, learning_rate=1e-3, dry_run=True)
    assert stages["train"] == "Completed" and stages["load_data"] == "Cached"
    _, stages = run(spec, learning_rate=1e-3, dry_run=True)
    assert stages["train"] == "Cached"
    assert len([r for r in read_records(home) if r.pipeline == "tiny"]) >= 3


def test_gc_removes_nothing_young_and_checkpoints_only_when_old(home, tmp_path):
    work = home / "artifacts" / "train" / "k1" / "work"
    work.mkdir(parents=True)
    orphan = home / "artifacts" / "train" / "k1" / "20260101T000000-deadbeef"
    orphan.mkdir()
    assert collect(keep_last=0).remove == [], "an hour's grace: a run may be writing it"
    assert [path for path, _ in collect(keep_last=0, min_age=0, dry_run=True).remove] == [orphan]
    old = os.stat(work).st_mtime - 8 * 86400
    os.utime(work, (old, old))
    assert {path for path, _ in collect(keep_last=0, min_age=0).remove} == {orphan, work}
    assert not (home / "artifacts" / "train" / "k1").exists()
