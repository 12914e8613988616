"""`modelmill run` as a user runs it, in a terminal-like subprocess: one clear error, a temporary server that
never outlives it, Ctrl-C that exits promptly and resumes later, no telemetry noise offline."""

from __future__ import annotations

import re

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import yaml

from tests.patience import patient
from tests.server.conftest import BIN, RealServer, write_pipelines


def offline_env(tmp_path: Path) -> dict[str, str]:
    """No PREFECT_API_URL: `modelmill run` starts its own temporary server."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), MODELMILL_HOME=str(tmp_path / "home"))
    return env


def server_children(process: subprocess.Popen) -> list[psutil.Process]:
    try:
        return [child for child in psutil.Process(process.pid).children(recursive=True) if "uvicorn" in child.cmdline()]
    except psutil.NoSuchProcess:
        return []


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + patient(timeout)
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def long_training(project: Path) -> None:
    spec = yaml.safe_load((project / "pipelines.yaml").read_text())["pipelines"]["tiny"]
    spec["train"].update(max_steps=400, eval_strategy="steps", eval_steps=20, logging_steps=20)
    write_pipelines(project, {"tiny": spec})


def test_a_failed_run_prints_one_clear_message_and_no_traceback(prefect_server: RealServer, project: Path, tmp_path):
    spec = yaml.safe_load((project / "pipelines.yaml").read_text())["pipelines"]["tiny"]
    spec["evaluate"]["thresholds"] = {"accuracy": {"min": 0.0, "max": 0.01}}
    write_pipelines(project, {"tiny": spec})
    done = subprocess.run(
        [str(BIN / "modelmill"), "run", "tiny"], cwd=project, capture_output=True, text=True, timeout=patient(300),
        env=prefect_server.env(MODELMILL_HOME=str(tmp_path / "home")),
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output, output
    assert output.count("modelmill: ThresholdsNotMet: Model is below its thresholds") == 1, output
    assert "| accuracy |" in output and "FAIL" in output
    # the failed task says its outcome in one line (the report is printed once, at the end), never "unexpected"
    ended = [line for line in output.splitlines() if "Task run 'evaluate" in line and "Finished in state Failed" in line]
    assert len(ended) == 1 and "| metric |" not in ended[0] and "unexpected exception" not in output, output
    assert re.search(r"Beginning flow run 'tiny-\d{8}-\d{6}-[0-9a-f]{6}'", output), output


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_the_temporary_server_never_outlives_a_stopped_run(project: Path, tmp_path, signum):
    long_training(project)
    run = subprocess.Popen([str(BIN / "modelmill"), "run", "tiny"], cwd=project, env=offline_env(tmp_path),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        (server,) = wait_for(lambda: server_children(run), 120, "the temporary server to start")
        time.sleep(3)  # let the run get going
        run.send_signal(signum)
        run.wait(timeout=patient(20))
        server.wait(timeout=patient(15))  # psutil raises TimeoutExpired if the orphan lives on
    finally:
        if run.poll() is None:
            run.kill()


def test_ctrl_c_exits_promptly_stops_the_server_and_a_later_run_resumes(project: Path, tmp_path):
    long_training(project)
    env = offline_env(tmp_path)
    run = subprocess.Popen([str(BIN / "modelmill"), "run", "tiny"], cwd=project, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    (server,) = wait_for(lambda: server_children(run), 120, "the temporary server to start")
    checkpoints = tmp_path / "home" / "artifacts" / "train"
    wait_for(lambda: list(checkpoints.glob("*/work/checkpoints/checkpoint-*/trainer_state.json")), 180,
             "a first complete checkpoint")
    run.send_signal(signal.SIGINT)
    output = run.communicate(timeout=patient(120))[0]  # a run that ignored SIGINT would finish its training: exit 0
    assert run.returncode == 130, output
    assert "interrupted; a later run resumes" in output
    server.wait(timeout=patient(15))
    # a later run picks up where the interrupted one stopped
    again = subprocess.run([str(BIN / "modelmill"), "run", "tiny"], cwd=project, env=env, capture_output=True,
                           text=True, timeout=patient(300))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "(resumed from checkpoint-" in again.stdout + again.stderr
    assert "Failed to send telemetry" not in output + again.stdout + again.stderr
    # a newcomer's terminal: the run's own name from the first line, no link to a server that dies with the run
    first = next(line for line in again.stderr.splitlines() if "Beginning flow run" in line)
    assert re.search(r"Beginning flow run 'tiny-\d{8}-\d{6}-[0-9a-f]{6}'", first), first
    assert "View at http://127.0.0.1" not in output + again.stdout + again.stderr
