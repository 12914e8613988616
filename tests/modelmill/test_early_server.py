"""When `modelmill run` boots its temporary server before importing Prefect: only for a run that cannot be all
cache hits, and never when a server is configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelmill.runtime.server import api_url_configured
from modelmill.storage.run_records import ran_before, start_record, write_record


def test_a_run_may_be_all_cache_hits_only_after_a_run_of_the_same_spec_ended_here():
    assert not ran_before("tiny", "abc123")
    record = start_record("tiny", spec_hash="abc123")
    assert not ran_before("tiny", "abc123"), "a running run may still fail"
    write_record(record.model_copy(update={"status": "failed"}))
    assert not ran_before("tiny", "abc123")
    write_record(record.model_copy(update={"status": "completed"}))
    assert ran_before("tiny", "abc123")
    assert not ran_before("tiny", "def456") and not ran_before("other", "abc123")


@pytest.fixture
def prefect_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_PROFILES_PATH", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    return tmp_path / "prefect-home"


def test_no_early_server_when_a_server_is_configured_by_environment_or_profile(prefect_home, monkeypatch):
    assert not api_url_configured()
    prefect_home.mkdir()
    (prefect_home / "profiles.toml").write_text('active = "default"\n[profiles.default]\n')
    assert not api_url_configured()
    (prefect_home / "profiles.toml").write_text('[profiles.default]\nPREFECT_API_URL = "http://127.0.0.1:4200/api"\n')
    assert api_url_configured()
    (prefect_home / "profiles.toml").unlink()
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert api_url_configured()


def test_heartbeats_are_off_only_while_a_temporary_server_serves_the_run(tmp_path, prefect_home):
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        get_current_settings,
        temporary_settings,
    )

    from modelmill.runtime.server import prefect_api

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 90}, restore_defaults={PREFECT_API_URL}):
        with prefect_api(tmp_path / "state") as url:
            assert url.startswith("http://127.0.0.1:")
            assert get_current_settings().flows.heartbeat_frequency is None, "the server dies with the run"
        assert get_current_settings().flows.heartbeat_frequency == 90


def test_a_configured_server_keeps_its_heartbeats(tmp_path, prefect):
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

    from modelmill.runtime.server import prefect_api

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 90}), prefect_api(tmp_path / "state") as url:
        assert url == get_current_settings().api.url
        assert get_current_settings().flows.heartbeat_frequency == 90


BOOT = """
import sys
from pathlib import Path
from modelmill.runtime.server import boot, startup_timeout, wait_until_healthy
early = boot(Path(sys.argv[1]))
try:
    wait_until_healthy(early.process, f"http://127.0.0.1:{early.port}/api", startup_timeout(), early.log)
    early.booted()
    print("healthy")
finally:
    early.stop()
"""


@pytest.mark.slow
def test_temporary_servers_started_at_once_on_a_new_database_take_turns_to_migrate_it(prefect_home, tmp_path):
    """Two `modelmill run`s started together on a new PREFECT_HOME: each temporary server migrates the new
    database at start; at once, one of them failed. The boot lock lets one migrate while the other waits."""
    import os
    import subprocess
    import sys

    from tests.patience import patient

    env = {**os.environ, "PREFECT_HOME": str(prefect_home)}
    env.pop("PREFECT_API_URL", None)
    env.pop("PREFECT_API_DATABASE_CONNECTION_URL", None)
    runs = [subprocess.Popen([sys.executable, "-c", BOOT, str(tmp_path / f"state-{i}")], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for i in range(4)]
    outputs = [run.communicate(timeout=patient(300))[0] for run in runs]
    assert [run.returncode for run in runs] == [0] * 4, "\n".join(outputs)
    assert all(out.strip().endswith("healthy") for out in outputs), outputs
    assert (prefect_home / "prefect.db").is_file()
