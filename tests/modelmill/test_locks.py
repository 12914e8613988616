"""Cache-key locks and scratch folders survive a killed process: nothing wedges, nothing half-written stays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from modelmill.storage.artifacts import atomic_dir, scratch_name, sweep_dead_scratch
from modelmill.storage.locks import FlockLockManager


def hold_lock_in_child(folder: Path, key: str) -> subprocess.Popen:
    """A child process that takes the lock on `key`, says so, and then waits to be killed."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from modelmill.storage.locks import FlockLockManager
        FlockLockManager({str(folder)!r}).acquire_lock({key!r}, "child")
        print("locked", flush=True)
        time.sleep(600)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "locked"
    return child


def test_a_lock_held_by_another_process_blocks_until_that_process_is_killed(tmp_path: Path):
    locks = FlockLockManager(tmp_path)
    child = hold_lock_in_child(tmp_path, "key-1")
    try:
        assert locks.is_locked("key-1")
        assert not locks.acquire_lock("key-1", "me", acquire_timeout=0.5), "held elsewhere: must wait"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    # the kernel dropped the killed holder's lock: no stale lock file blocks the key
    assert locks.acquire_lock("key-1", "me", acquire_timeout=5)
    assert locks.is_lock_holder("key-1", "me") and not locks.is_lock_holder("key-1", "other")
    locks.release_lock("key-1", "me")
    assert not locks.is_locked("key-1")


def test_two_holders_in_one_process_take_turns(tmp_path: Path):
    locks = FlockLockManager(tmp_path)
    assert locks.acquire_lock("k", "first")
    assert not locks.acquire_lock("k", "second", acquire_timeout=0.3)
    locks.release_lock("k", "first")
    assert locks.acquire_lock("k", "second", acquire_timeout=1)


def test_scratch_of_a_killed_writer_is_swept_and_a_live_ones_is_kept(tmp_path: Path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    killed_scratch = tmp_path / scratch_name("model").replace(f"-{os.getpid()}-", f"-{dead.pid}-")
    live_scratch = tmp_path / scratch_name("model")
    killed_scratch.mkdir()
    live_scratch.mkdir()
    assert sweep_dead_scratch(tmp_path) == [killed_scratch]
    assert live_scratch.exists() and not killed_scratch.exists()


def test_a_published_folder_is_never_replaced(tmp_path: Path):
    final = tmp_path / "out"
    with atomic_dir(final) as scratch:
        (scratch / "weights").write_text("first")
    with pytest.raises(FileExistsError, match="already published"):
        with atomic_dir(final) as scratch:
            (scratch / "weights").write_text("second")
    assert (final / "weights").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "no scratch left behind"
