"""The temporary Prefect server of `modelmill run` when no PREFECT_API_URL is set: started with a generous
timeout, telemetry off, and never left behind (stopped on exit, SIGINT or SIGTERM; killed with its parent)."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from modelmill.runtime.errors import ModelmillError

TEMPORARY_API_URL = "MODELMILL_TEMPORARY_API_URL"  # set while a run uses a temporary server: links would die with it
DEFAULT_STARTUP_TIMEOUT = 120.0
MAX_STARTUP_TIMEOUT = 3_600.0
PR_SET_PDEATHSIG = 1


class ServerStartError(ModelmillError):
    """The temporary Prefect server did not come up."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the kernel sends SIGTERM to this process when its parent dies, even by SIGKILL."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def startup_timeout() -> float:
    """MODELMILL_SERVER_STARTUP_TIMEOUT (seconds, up to an hour), default 120: a busy machine can take a while."""
    raw = os.environ.get("MODELMILL_SERVER_STARTUP_TIMEOUT", "")
    try:
        value = float(raw) if raw else DEFAULT_STARTUP_TIMEOUT
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_STARTUP_TIMEOUT:
        raise ServerStartError(
            f"MODELMILL_SERVER_STARTUP_TIMEOUT={raw!r} must be a number of seconds in (0, {MAX_STARTUP_TIMEOUT:.0f}]"
        )
    return value


def start_server(port: int, log: Path) -> subprocess.Popen:
    """Prefect's own server app under uvicorn, in its own session (Ctrl-C in the terminal does not reach it:
    modelmill stops it once the run has recorded how it ended). Prefect is found, not imported."""
    import importlib.util

    spec = importlib.util.find_spec("prefect")
    assert spec is not None and spec.origin is not None
    app_dir = Path(spec.origin).parent.parent
    env = {
        **os.environ,
        "PREFECT_UI_ENABLED": "0",
        "PREFECT_SERVER_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
    }
    with log.open("ab") as sink:
        return subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "--app-dir", str(app_dir), "--factory",
                "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
                "--log-level", "error", "--lifespan", "on",
            ],
            env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )


def wait_until_healthy(process: subprocess.Popen, url: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(
                f"the temporary Prefect server exited with code {process.returncode}; its log: {log}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise ServerStartError(
        f"the temporary Prefect server did not answer within {timeout:.0f} s (log: {log}); on a busy machine "
        "raise MODELMILL_SERVER_STARTUP_TIMEOUT, or start one (prefect server start) and set PREFECT_API_URL"
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def flush_prefect_clients(timeout: float = 10.0) -> None:
    """Send the logs and events still queued while the server is up; otherwise Python's exit waits on them,
    retrying a server that is gone (that made Ctrl-C take over a minute)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        service.drain_all(timeout=timeout)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@dataclass
class EarlyServer:
    """A temporary server started before Prefect is imported, for a run that will surely need one. It holds the
    boot lock (`boot_lock`) until it answers: the one that migrates a new database is alone doing it."""

    process: subprocess.Popen
    port: int
    log: Path
    lock: int | None = None

    def booted(self) -> None:
        """Let the next temporary server of this PREFECT_HOME start (this one answers, or is gone)."""
        if self.lock is not None:
            os.close(self.lock)  # the kernel drops the flock with the descriptor (and with a killed process)
            self.lock = None

    def stop(self) -> None:
        self.booted()
        stop(self.process)


def boot_lock() -> int:
    """Wait for, and take, the lock on starting a temporary server over this PREFECT_HOME's database: two servers
    that migrate one new database at once fail (one of them exits). A descriptor holding the flock."""
    import fcntl

    home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect")).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(home / "modelmill-server-boot.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # its holder lets go once its server answers, or dies
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def api_url_configured() -> bool:
    """Whether Prefect will talk to a configured server, judged without importing Prefect: PREFECT_API_URL in the
    environment, or a profiles file that mentions it (then no early server is started)."""
    if os.environ.get("PREFECT_API_URL"):
        return True
    home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect")).expanduser()
    profiles = Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).expanduser()
    try:
        return "PREFECT_API_URL" in profiles.read_text(encoding="utf-8")
    except OSError:
        return False


def boot(state_dir: Path) -> EarlyServer:
    """Start a temporary server on a free loopback port, its log in `state_dir`."""
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = boot_lock()
    try:
        log, port = state_dir / "prefect-server.log", _free_port()
        return EarlyServer(start_server(port, log), port, log, lock)
    except BaseException:
        os.close(lock)
        raise


def start_early(state_dir: Path) -> EarlyServer | None:
    """Start the temporary server now, while the flow is imported and its cache probed (a second or more), for a
    run that cannot be all cache hits; None when a server is configured."""
    return None if api_url_configured() else boot(state_dir)


@contextmanager
def prefect_api(
    state_dir: Path, while_starting: Callable[[], None] = lambda: None, early: EarlyServer | None = None
) -> Iterator[str | None]:
    """Yield the API URL to use: the configured PREFECT_API_URL, else a temporary server's (`early` when one was
    started already), stopped on exit. `while_starting` (the checks before any work) runs while the temporary
    server boots, which takes seconds.

    SIGTERM is turned into KeyboardInterrupt meanwhile, so that the run is marked as ended and the server
    stopped; a SIGKILL of this process takes the server down through the kernel (Linux).
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, PREFECT_UI_URL, temporary_settings

    from modelmill.storage.home import current_home

    if PREFECT_API_URL.value():
        if early is not None:
            early.stop()
        while_starting()
        current_home().save_result_block()
        yield PREFECT_API_URL.value()
        return
    early = early or boot(state_dir)
    process, log = early.process, early.log
    url = f"http://127.0.0.1:{early.port}/api"
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        while_starting()
        try:
            wait_until_healthy(process, url, startup_timeout(), log)
        finally:
            early.booted()
        os.environ[TEMPORARY_API_URL] = url
        # no heartbeats: they tell a server that outlives the run that it crashed, and this one dies with it (the
        # heartbeat thread sleeps in whole seconds, so joining it at the flow's end cost up to one); no UI link
        # ("View at http://127.0.0.1:<port>/runs/..."): this server has no UI and is gone when the run ends
        with temporary_settings(updates={PREFECT_API_URL: url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
                                         PREFECT_UI_URL: ""}):
            current_home().save_result_block()
            yield url
    finally:
        os.environ.pop(TEMPORARY_API_URL, None)
        signal.signal(signal.SIGTERM, previous)
        try:
            flush_prefect_clients()
        finally:
            stop(process)
