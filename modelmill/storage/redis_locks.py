"""Cache-key locks across machines: prefect-redis's lock manager, with a lease a holder keeps renewing.

Prefect acquires cache locks with no hold timeout, so with a plain `RedisLockManager` a killed holder would wedge
its key forever. Here every lock expires `LEASE_SECONDS` after its holder stops renewing it: a live holder (a
training that takes hours) renews it in the background; a killed one frees it within a lease.

A lease is not a lock unless its holder checks it before it publishes: a process paused past its lease (SIGSTOP,
a frozen VM) wakes up believing it holds the key while another machine computes it. `is_lock_holder` asks Redis
(prefect-redis compares only the token it keeps locally), and `still_holds` is the fence a stage passes before it
publishes: the key is still this holder's, or taken again when nobody else took it meanwhile.
"""

from __future__ import annotations

import threading
from typing import Any

from prefect_redis import RedisLockManager

LEASE_SECONDS = 30.0


class LeasedRedisLockManager(RedisLockManager):
    """`RedisLockManager` whose locks are leases, renewed every third of a lease while held."""

    def __init__(self, connection_url: str, lease_seconds: float = LEASE_SECONDS) -> None:
        super().__init__(connection_url=connection_url)
        self.lease_seconds = lease_seconds
        self._renewer: threading.Thread | None = None
        self._stop = threading.Event()

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "lease_seconds": self.lease_seconds}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._renewer, self._stop = None, threading.Event()

    def acquire_lock(
        self, key: str, holder: str, acquire_timeout: float | None = None, hold_timeout: float | None = None
    ) -> bool:
        acquired = super().acquire_lock(key, holder, acquire_timeout, hold_timeout or self.lease_seconds)
        if acquired:
            self._keep_renewing()
        return acquired

    async def aacquire_lock(
        self, key: str, holder: str, acquire_timeout: float | None = None, hold_timeout: float | None = None
    ) -> bool:
        import anyio

        return await anyio.to_thread.run_sync(self.acquire_lock, key, holder, acquire_timeout, hold_timeout)

    def is_lock_holder(self, key: str, holder: str) -> bool:
        """Whether Redis holds `holder`'s token for `key` now (Prefect asks before it writes a cache record)."""
        lock = self._locks.get(self._lock_name_for_key(key))
        return super().is_lock_holder(key, holder) and lock is not None and lock.owned()

    def still_holds(self, key: str, holder: str) -> bool:
        """The fence before publishing: True when `holder` still owns `key`'s lock, or took it again because its
        lease lapsed and nobody else took it; False when another holder has it (or had it, and released it)."""
        if not super().is_lock_holder(key, holder):
            return False
        lock = self._locks[self._lock_name_for_key(key)]
        if lock.owned():
            return True
        return bool(lock.do_acquire(lock.local.token))  # SET NX with this holder's token: only if nobody has it

    def release_lock(self, key: str, holder: str) -> None:
        """Release `holder`'s lock; one whose lease lapsed is only forgotten here (another holder's lock, if any,
        stays as it is)."""
        name = self._lock_name_for_key(key)
        if super().is_lock_holder(key, holder) and not self._locks[name].owned():
            del self._locks[name]
            return
        super().release_lock(key, holder)

    def _keep_renewing(self) -> None:
        if self._renewer is None or not self._renewer.is_alive():
            self._renewer = threading.Thread(target=self._renew, name="modelmill-lock-lease", daemon=True)
            self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            for lock in list(self._locks.values()):
                try:
                    lock.reacquire()  # the lease starts again from now
                except Exception:  # released meanwhile, or Redis briefly away: the next round tries again
                    continue
