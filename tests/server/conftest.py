"""A real `prefect server start` on 127.0.0.1, one per test session, with its services (scheduler, triggers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import pipeline_dict
from tests.object_store import free_port
from tests.patience import patient

BIN = Path(sys.executable).parent


class RealServer:
    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.home = home
        self.log = home / "server.log"

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a process that talks to this server (CLI, worker)."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
        env.update(
            {
                "PREFECT_API_URL": self.api_url,
                "PREFECT_HOME": str(self.home / "client-home"),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DO_NOT_TRACK": "1",
                **extra,
            }
        )
        return env

    def cli(self, *args: str, timeout: float = 120, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
        """Run the Prefect CLI against the server (in `cwd`, the test's folder by default)."""
        return subprocess.run(
            [str(BIN / "prefect"), *args], env=self.env(**env), capture_output=True, text=True, timeout=patient(timeout),
            cwd=cwd,
        )


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    server = RealServer(tmp_path_factory.mktemp("prefect-server"))
    env = server.env(
        PREFECT_HOME=str(server.home / "server-home"),
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{server.home / 'prefect.db'}",
        PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="2",
        PREFECT_SERVER_UI_ENABLED="false",
        PREFECT_LOGGING_LEVEL="INFO",
    )
    with server.log.open("w") as log:
        process = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(server.port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + patient(180)
        while True:
            try:
                if httpx.get(f"{server.api_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prefect server did not start:\n{server.log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=patient(20))
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def project(tmp_path: Path, tiny_model_dir: Path, review_files: dict[str, Path]) -> Path:
    """A project folder: its pipelines.yaml (one weekly pipeline, data files relative to it)."""
    folder = tmp_path / "project"
    folder.mkdir()
    spec = pipeline_dict(tiny_model_dir, {split: Path("..") / "data" / path.name for split, path in review_files.items()})
    spec["schedule"] = {"cron": "0 3 * * 1", "timezone": "UTC"}
    spec["train"]["epochs"] = 1
    write_pipelines(folder, {"tiny": spec})
    return folder


def stop_serving(serving: subprocess.Popen) -> str:
    """Stop a `modelmill serve` started in a session of its own with SIGTERM and return what it printed; one that
    does not stop is killed with its runs, and the test fails with its output (it is never left serving)."""
    serving.terminate()
    try:
        return serving.communicate(timeout=patient(60))[0]
    except subprocess.TimeoutExpired:
        os.killpg(serving.pid, signal.SIGKILL)
        output = serving.communicate()[0]
        pytest.fail(f"modelmill serve did not stop on SIGTERM within {patient(60):.0f} s:\n{output[-6000:]}")


def write_pipelines(folder: Path, pipelines: dict[str, Any], **top: Any) -> None:
    (folder / "pipelines.yaml").write_text(yaml.safe_dump({**top, "pipelines": pipelines}, sort_keys=False))
