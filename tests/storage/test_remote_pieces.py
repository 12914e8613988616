"""A remote home piece by piece, on moto's S3 server and a real Redis on 127.0.0.1: publishing with a marker,
reading through the local read cache, storage options without credentials, leased locks across processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from modelmill.storage.artifacts import atomic_dir, new_output_dir
from modelmill.storage.caching import missing_paths
from modelmill.storage.home import COMPLETE, HomeError, current_home, local_copy, storage_options
from modelmill.storage.read_cache import make_room
from tests.object_store import S3Server
from tests.patience import patient


class _Manifest(BaseModel):
    path: Path


@pytest.fixture
def remote_home(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    home = s3_server.new_home()
    for key, value in s3_server.env(home, tmp_path / "cache").items():
        monkeypatch.setenv(key, value)
    return home


def publish(files: dict[str, bytes], stage: str = "tokenize", key: str = "k1") -> Path:
    output = new_output_dir(stage, key)
    with atomic_dir(output) as scratch:
        for name, content in files.items():
            (scratch / name).parent.mkdir(parents=True, exist_ok=True)
            (scratch / name).write_bytes(content)
    return output


def test_an_output_is_named_by_its_place_in_the_home_and_its_marker_is_written_last(remote_home, s3_server):
    output = publish({"a.bin": b"x" * 10, "sub/b.txt": b"hello"})
    assert not output.is_absolute() and output.parts[:3] == ("artifacts", "tokenize", "k1")
    fs = s3_server.filesystem()
    prefix = f"{remote_home.removeprefix('s3://')}/{output.as_posix()}"
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.find(prefix)) == sorted([COMPLETE, "a.bin", "b.txt"])
    assert missing_paths(_Manifest(path=output)) == []


def test_another_machine_reads_a_published_output_through_its_own_read_cache(remote_home, tmp_path, monkeypatch):
    output = publish({"weights.bin": b"w" * 100})
    monkeypatch.setenv("MODELMILL_CACHE_DIR", str(tmp_path / "other-machine"))
    local = local_copy(output)
    assert local.is_relative_to(tmp_path / "other-machine")
    assert (local / "weights.bin").read_bytes() == b"w" * 100
    (local / "weights.bin").unlink()  # a second read is served from the cache, not downloaded again
    assert local_copy(output) == local and not (local / "weights.bin").exists()


def test_a_prefix_without_its_marker_does_not_exist_for_any_reader(remote_home, s3_server, tmp_path, monkeypatch):
    output = publish({"weights.bin": b"w"})
    s3_server.filesystem().rm(f"{remote_home.removeprefix('s3://')}/{output.as_posix()}/{COMPLETE}")
    monkeypatch.setenv("MODELMILL_CACHE_DIR", str(tmp_path / "other-machine"))
    assert missing_paths(_Manifest(path=output)) == [output]
    with pytest.raises(FileNotFoundError, match=COMPLETE):
        local_copy(output)


def test_a_failed_stage_publishes_nothing(remote_home, s3_server):
    output = new_output_dir("train", "k2")
    with pytest.raises(RuntimeError), atomic_dir(output) as scratch:
        (scratch / "half.bin").write_bytes(b"h")
        raise RuntimeError("killed mid-save")
    assert not s3_server.filesystem().exists(f"{remote_home.removeprefix('s3://')}/{output.as_posix()}")
    assert not (current_home().local / output).exists()


@pytest.mark.parametrize("name", ["../../escaped.txt", "/tmp/absolute.txt", "sub/../../escaped.txt"])
def test_a_marker_naming_a_file_outside_its_output_is_refused(remote_home, s3_server, tmp_path, monkeypatch, name):
    output = publish({"weights.bin": b"w"})
    marker = f"{remote_home.removeprefix('s3://')}/{output.as_posix()}/{COMPLETE}"
    s3_server.filesystem().pipe_file(marker, json.dumps({"files": {name: 1}}).encode())
    monkeypatch.setenv("MODELMILL_CACHE_DIR", str(tmp_path / "other-machine"))
    with pytest.raises(HomeError, match="which is not a file inside the output: refused"):
        local_copy(output)
    assert not list((tmp_path / "other-machine").rglob("escaped.txt")) and not Path("/tmp/absolute.txt").exists()


def test_a_published_output_is_never_overwritten(remote_home):
    output = publish({"a": b"1"})
    with pytest.raises(FileExistsError, match="never overwritten"):
        current_home().publish(current_home().local / output, output)


def test_the_read_cache_evicts_the_least_recently_used_outputs_past_its_limit(remote_home):
    old, new = publish({"a": b"1" * 1000}, key="old"), publish({"b": b"2" * 1000}, key="new")
    home = current_home()
    os.utime(home.local / old, (1, 1))
    removed = make_room(home, limit_bytes=1500)
    assert removed == [home.local / old]
    assert (home.local / new).exists()
    assert (local_copy(old) / "a").read_bytes() == b"1" * 1000  # evicted from the cache, still in the home


@pytest.mark.parametrize("options", [
    '{"key": "AKIA", "client_kwargs": {}}',
    '{"client_kwargs": {"aws_secret_access_key": "s"}}',
    '{"token": "t"}',
])
def test_storage_options_never_carry_credentials(options):
    with pytest.raises(HomeError, match="MODELMILL_STORAGE_OPTIONS holds credentials"):
        storage_options(options)


def test_bad_storage_options_are_named():
    with pytest.raises(HomeError, match="MODELMILL_STORAGE_OPTIONS is not JSON"):
        storage_options("{endpoint")
    with pytest.raises(HomeError, match="must be a JSON object"):
        storage_options("[1]")


def test_prefect_gets_a_saved_block_for_a_remote_home_never_a_url_string(remote_home):
    home = current_home()
    storage = home.result_storage()
    assert storage == f"remote-file-system/{home.block_name()}"
    filesystem = home.results_filesystem()
    assert filesystem.basepath == f"{remote_home}/prefect-results"
    assert "testing" not in filesystem.model_dump_json(), "credentials are never saved in the block"


@pytest.mark.parametrize("where", ["a closed port", "a bucket that does not exist", "a live bucket"])
def test_a_remote_home_that_cannot_be_reached_is_refused_before_any_work(s3_server, tmp_path, monkeypatch, where):
    import json

    from modelmill.runtime.preflight import home_problems
    from tests.object_store import free_port

    home, endpoint = s3_server.new_home(), s3_server.endpoint
    if where == "a closed port":
        endpoint = f"http://127.0.0.1:{free_port()}"
    elif where == "a bucket that does not exist":
        home = "s3://no-such-bucket-here/home"
    for key, value in s3_server.env(home, tmp_path / "cache").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MODELMILL_STORAGE_OPTIONS", json.dumps({"client_kwargs": {"endpoint_url": endpoint},
                                                                "config_kwargs": {"retries": {"max_attempts": 1}}}))
    started = time.monotonic()
    found = home_problems()
    if where == "a live bucket":
        assert found == []
        return
    [problem] = found
    assert problem.startswith(f"MODELMILL_HOME={home}: cannot be reached: "), problem
    assert ("does not exist" in problem) == (where == "a bucket that does not exist"), problem
    assert time.monotonic() - started < patient(60), "said before any retry of a stage"


def _hold(url: str, key: str, lease: float, ready) -> None:
    from modelmill.storage.redis_locks import LeasedRedisLockManager

    manager = LeasedRedisLockManager(url, lease_seconds=lease)
    assert manager.acquire_lock(key, holder="first")
    ready.set()
    time.sleep(600)


def test_a_redis_lock_is_held_while_its_holder_lives_and_freed_when_it_is_killed(redis_url):
    from modelmill.storage.redis_locks import LeasedRedisLockManager

    key = f"key-{time.monotonic_ns()}"
    ready = multiprocessing.get_context("spawn").Event()
    holder = multiprocessing.get_context("spawn").Process(target=_hold, args=(redis_url, key, 1.5, ready))
    holder.start()
    try:
        assert ready.wait(patient(60))
        other = LeasedRedisLockManager(redis_url, lease_seconds=1.5)
        time.sleep(3)  # two leases: the live holder has renewed its lock meanwhile
        assert other.is_locked(key)
        assert not other.acquire_lock(key, holder="second", acquire_timeout=0.5)
        os.kill(holder.pid, signal.SIGKILL)
        assert other.acquire_lock(key, holder="second", acquire_timeout=patient(10))
        other.release_lock(key, holder="second")
    finally:
        holder.kill()


def _publish_under_lease(url: str, key: str, lease: float, final: str, ready, go, outcome) -> None:
    """A stage in a child process: takes the key's lock in a SERIALIZABLE transaction, waits for `go` (it is paused
    meanwhile), then publishes `final` through atomic_dir."""
    from prefect.results import ResultStore
    from prefect.transactions import IsolationLevel, transaction

    from modelmill.runtime.errors import LeaseLost
    from modelmill.storage.artifacts import atomic_dir
    from modelmill.storage.redis_locks import LeasedRedisLockManager

    store = ResultStore(lock_manager=LeasedRedisLockManager(url, lease_seconds=lease))
    try:
        with transaction(key=key, store=store, isolation_level=IsolationLevel.SERIALIZABLE, write_on_commit=False):
            ready.set()
            go.wait()
            with atomic_dir(Path(final)) as scratch:
                (scratch / "weights.bin").write_bytes(b"mine")
        outcome.put("published")
    except LeaseLost as exc:
        outcome.put(f"LeaseLost: {exc}")
    except BaseException as exc:
        outcome.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("taken", [True, False], ids=["another holder took it", "nobody took it"])
def test_a_holder_paused_past_its_lease_publishes_only_while_the_lock_is_still_its_own(redis_url, tmp_path, taken):
    """SIGSTOP a stage that holds a key's lock past its lease: when another holder took the key meanwhile, the
    woken stage publishes nothing (LeaseLost, which its retry condition retries); when nobody did, it takes the
    lock again and publishes."""
    from modelmill.runtime.retry import is_transient_error
    from modelmill.runtime.errors import LeaseLost
    from modelmill.storage.redis_locks import LeasedRedisLockManager

    context = multiprocessing.get_context("spawn")
    key, final = f"key-{time.monotonic_ns()}", tmp_path / "published"
    ready, go, outcome = context.Event(), context.Event(), context.Queue()
    stage = context.Process(target=_publish_under_lease,
                            args=(redis_url, key, 1.0, str(final), ready, go, outcome))
    stage.start()
    other = LeasedRedisLockManager(redis_url, lease_seconds=30)
    try:
        assert ready.wait(patient(60))
        os.kill(stage.pid, signal.SIGSTOP)
        if taken:  # the lease lapses (its renewer is paused too) and another machine takes the key
            assert other.acquire_lock(key, holder="other-machine", acquire_timeout=patient(10))
        else:
            time.sleep(2.5)
        os.kill(stage.pid, signal.SIGCONT)  # before `go`: setting an Event waits for its stopped waiter to wake
        go.set()
        said = outcome.get(timeout=patient(60))
        if taken:
            assert said.startswith("LeaseLost: the lock on cache key") and not final.exists(), said
            assert other.is_lock_holder(key, "other-machine"), "the other holder's lock is left as it is"
            assert is_transient_error(LeaseLost("x")), "the stage's retry waits for the other run's output"
        else:
            assert said == "published" and (final / "weights.bin").read_bytes() == b"mine"
    finally:
        if other.is_lock_holder(key, "other-machine"):
            other.release_lock(key, holder="other-machine")
        os.kill(stage.pid, signal.SIGCONT)
        stage.join(patient(30))
        stage.kill()


def test_the_lock_manager_follows_the_settings(redis_url, monkeypatch, tmp_path):
    from modelmill.storage.caching import LOCKS
    from modelmill.storage.locks import FlockLockManager
    from modelmill.storage.redis_locks import LeasedRedisLockManager

    assert isinstance(LOCKS.manager(), FlockLockManager)
    monkeypatch.setenv("MODELMILL_LOCKS", redis_url)
    assert isinstance(LOCKS.manager(), LeasedRedisLockManager)
    assert LOCKS.acquire_lock("k", holder="h", acquire_timeout=5)
    assert LOCKS.is_lock_holder("k", "h")
    LOCKS.release_lock("k", holder="h")



