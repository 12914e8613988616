"""A Prefect lock manager on OS file locks: the kernel frees a lock when its holder dies, so none can wedge."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import anyio

POLL_SECONDS = 0.2


class FlockLockManager:
    """Cache-key locks shared by every process on a host (and threads in one), via `flock(2)` on one file per key.

    Prefect's `FileSystemLockManager` keeps a lock file until its holder releases it, so a killed run blocks the
    key forever; an `flock` dies with the process that holds it. `hold_timeout` is not needed and is ignored.
    """

    def __init__(self, directory: Path | Callable[[], Path]) -> None:
        self._directory = directory
        self._held: dict[str, tuple[str, int]] = {}  # key -> (holder, file descriptor)
        self._mutex = threading.Lock()

    def __deepcopy__(self, memo: dict) -> FlockLockManager:
        return self  # one manager per process: copies of a cache policy must share what it holds

    def __reduce__(self) -> tuple:
        return (type(self), (self._directory,))

    @property
    def directory(self) -> Path:
        """The lock folder; a callable is resolved at each use (e.g. from `MODELMILL_HOME`)."""
        return Path(self._directory() if callable(self._directory) else self._directory)

    def _path(self, key: str) -> Path:
        return self.directory / f"{key.replace('/', '_')}.lock"

    def _try_lock(self, key: str) -> int | None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path(key), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def acquire_lock(
        self, key: str, holder: str, acquire_timeout: float | None = None, hold_timeout: float | None = None
    ) -> bool:
        with self._mutex:
            if self._held.get(key, ("", -1))[0] == holder:
                return True
        deadline = None if acquire_timeout is None else time.monotonic() + acquire_timeout
        while True:
            fd = self._try_lock(key)
            if fd is not None:
                with self._mutex:
                    self._held[key] = (holder, fd)
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(POLL_SECONDS)

    async def aacquire_lock(
        self, key: str, holder: str, acquire_timeout: float | None = None, hold_timeout: float | None = None
    ) -> bool:
        return await anyio.to_thread.run_sync(self.acquire_lock, key, holder, acquire_timeout, hold_timeout)

    def release_lock(self, key: str, holder: str) -> None:
        with self._mutex:
            held = self._held.get(key)
            if held is None or held[0] != holder:
                raise ValueError(f"lock on {key!r} is not held by {holder!r}")
            del self._held[key]
        os.close(held[1])  # closing the descriptor releases the flock

    def is_locked(self, key: str) -> bool:
        with self._mutex:
            if key in self._held:
                return True
        fd = self._try_lock(key)
        if fd is None:
            return True
        os.close(fd)
        return False

    def is_lock_holder(self, key: str, holder: str) -> bool:
        with self._mutex:
            return self._held.get(key, ("", -1))[0] == holder

    def wait_for_lock(self, key: str, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_locked(key):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(POLL_SECONDS)
        return True

    async def await_for_lock(self, key: str, timeout: float | None = None) -> bool:
        return await anyio.to_thread.run_sync(self.wait_for_lock, key, timeout)


class HomeLocks:
    """The cache-key lock manager the settings name, chosen at each use: Redis across machines (MODELMILL_LOCKS),
    else `flock`s under this machine's home. With a remote home and no Redis, machines do not see each other's
    locks: two may compute one key, each publishing its own immutable output (said once in the log)."""

    def __init__(self) -> None:
        self._managers: dict[tuple[str, str], object] = {}
        self._warned = False

    def __deepcopy__(self, memo: dict) -> HomeLocks:
        return self

    def __reduce__(self) -> tuple:
        return (type(self), ())

    def manager(self) -> object:
        from modelmill.storage.home import current_home
        from modelmill.storage.settings import get_settings

        settings = get_settings()
        choice = ("redis", settings.locks) if settings.locks else ("flock", str(settings.lock_folder))
        if choice not in self._managers:
            if settings.locks:
                from modelmill.storage.redis_locks import LeasedRedisLockManager

                self._managers[choice] = LeasedRedisLockManager(settings.locks)
            else:
                self._managers[choice] = FlockLockManager(Path(choice[1]))
        if not settings.locks and current_home().remote and not self._warned:
            self._warned = True
            from prefect.logging import get_logger

            get_logger("modelmill.storage.locks").warning(
                "MODELMILL_HOME is remote but MODELMILL_LOCKS is not set: runs on other machines may compute the "
                "same stage at once (each publishes its own output; nothing is overwritten)")
        return self._managers[choice]

    def __getattr__(self, name: str) -> object:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.manager(), name)


def check_lease() -> None:
    """The fence before a stage publishes its output: when the stage runs in a Prefect transaction that holds its
    cache key's lock (SERIALIZABLE), the lock must still be its own (a Redis lease can lapse under a paused
    process; an flock cannot). Raises LeaseLost, which the stage's retry condition retries."""
    import sys

    if "prefect.transactions" not in sys.modules:  # no Prefect, no transaction (a bench, a test, `modelmill check`)
        return
    from prefect.transactions import IsolationLevel, get_transaction

    from modelmill.runtime.errors import LeaseLost

    transaction = get_transaction()
    if transaction is None or transaction.store is None or transaction.key is None \
            or transaction.isolation_level != IsolationLevel.SERIALIZABLE:
        return
    still_holds = getattr(transaction.store.lock_manager, "still_holds", None)
    if still_holds is not None and not still_holds(transaction.key, transaction._holder):
        raise LeaseLost(
            f"the lock on cache key {transaction.key} lapsed while this stage worked (its process was paused past "
            "the lease, or lost Redis) and another run took it: nothing was published; a retry waits for that run "
            "and reuses its output"
        )
