"""Cache-key locks across machines: prefect-redis's lock manager, with a lease a holder keeps renewing.

Prefect acquires cache locks with no hold timeout, so with a plain `RedisLockManager` a killed holder would wedge
its key forever. Here every lock expires `LEASE_SECONDS` after its holder stops renewing it: a live holder (a
training that takes hours) renews it in the background; a killed one frees it within a lease.
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
