"""What operators run, against a real Prefect server on 127.0.0.1: cron schedules, the CLI, a work pool and a
worker, run-time config, retiring deployments and the crash alert."""

from __future__ import annotations

import re
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Scheduled

from tests.patience import patient
from tests.server.conftest import BIN, RealServer, stop_serving, write_pipelines
from tests.webhook_receiver import WebhookReceiver

FORM = {
    "pipeline", "pipelines_file", "epochs", "learning_rate", "batch_size", "max_steps", "seed", "search_trials",
    "force_retrain", "dry_run", "note",
}


def modelmill(server: RealServer, folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(BIN / "modelmill"), *args], cwd=folder, env=server.env(**env), capture_output=True, text=True,
        timeout=patient(300),
    )
    assert done.returncode == 0, f"modelmill {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def wait_for(predicate, timeout: float, what: str, server: RealServer) -> Any:
    deadline = time.monotonic() + patient(timeout)
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"timed out after {timeout}s waiting for {what}; server log:\n{server.log.read_text()[-4000:]}")


def test_deploy_schedules_lists_and_a_worker_runs_the_file_as_it_is_now(prefect_server: RealServer, project: Path, tmp_path):
    home = tmp_path / "modelmill-home"
    # given the tiny pipeline deployed to a process work pool
    out = modelmill(prefect_server, project, "deploy", "--pool", "test-pool", MODELMILL_HOME=str(home)).stdout
    assert "finetune/tiny" in out
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("finetune/tiny")
        # then the form is the small set of typed overrides, and no path of this machine is in it
        assert set(deployment.parameter_openapi_schema["properties"]) == FORM
        assert deployment.parameters == {"pipeline": "tiny", "pipelines_file": "pipelines.yaml"}
        # and the server's scheduler creates the cron runs
        by_deployment = FlowRunFilter(deployment_id={"any_": [deployment.id]})
        scheduled = wait_for(
            lambda: [r for r in client.read_flow_runs(flow_run_filter=by_deployment, limit=20) if r.state.is_scheduled()],
            90, "the scheduler to create the weekly runs", prefect_server,
        )
        assert all(run.expected_start_time.weekday() == 0 and run.expected_start_time.hour == 3 for run in scheduled)
    # and the Prefect CLI's list commands work against the server
    for command in (["deployment", "ls"], ["flow-run", "ls"], ["work-pool", "ls"]):
        listed = prefect_server.cli(*command)
        assert listed.returncode == 0, f"prefect {' '.join(command)}: {listed.stdout}{listed.stderr}"
    # when a person starts a named run with an override and a worker (started in the project folder) picks it up
    run_by_worker(prefect_server, project, "first by alice", "-p", "epochs=2")
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
        (first,) = [r for r in client.read_flow_runs(flow_run_filter=by_deployment, limit=50) if r.name == "first by alice"]
        # then the flow completes under the typed name, with the override applied
        assert first.state.is_completed(), first.state
        assert first.parameters["epochs"] == 2
    # and its results and artifacts went under MODELMILL_HOME (passed to the worker's runs by the deployment)
    assert list((home / "prefect-results").iterdir()), "task results are kept under MODELMILL_HOME"
    assert list((home / "artifacts" / "train").glob("*/*/model.safetensors"))
    # when the file is then edited (a new rule the data fails) and another run starts, without redeploying
    spec = yaml.safe_load((project / "pipelines.yaml").read_text())["pipelines"]["tiny"]
    spec["validation"]["expectations"].append({"expect_table_row_count_to_be_between": {"min_value": 10_000}})
    write_pipelines(project, {"tiny": spec})
    run_by_worker(prefect_server, project, "after the edit")
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
        (second,) = [r for r in client.read_flow_runs(flow_run_filter=by_deployment, limit=50) if r.name == "after the edit"]
        # then that run used the edited file: it failed on the new rule
        assert second.state.is_failed(), second.state
        assert "expect_table_row_count_to_be_between" in (second.state.message or "")


def run_by_worker(server: RealServer, project: Path, name: str, *parameters: str) -> None:
    """Start a run of finetune/tiny from the Prefect CLI and let one worker pass, in the project folder, execute it."""
    started = server.cli("deployment", "run", "finetune/tiny", *parameters, "--flow-run-name", name)
    assert started.returncode == 0, started.stdout + started.stderr
    worker = server.cli("worker", "start", "--pool", "test-pool", "--run-once", timeout=patient(300), cwd=project,
                        PWD=str(project))  # as a shell in the project folder starts it
    assert worker.returncode == 0, worker.stdout + worker.stderr


def test_redeploying_retires_removed_pipelines_and_alerts_on_a_crash(prefect_server: RealServer, project, tmp_path):
    spec = yaml.safe_load((project / "pipelines.yaml").read_text())["pipelines"]["tiny"]
    with WebhookReceiver() as hook:
        with temporary_settings({PREFECT_API_URL: prefect_server.api_url}):
            from prefect.blocks.notifications import CustomWebhookNotificationBlock

            CustomWebhookNotificationBlock(
                name="oncall", url=hook.url, json_data={"subject": "{{subject}}", "body": "{{body}}"}
            ).save("oncall", overwrite=True)
        # given two pipelines deployed, notifying the on-call webhook, beta retrained when its data changes
        notify = {"block": "custom-webhook/oncall", "on": ["failed", "crashed"]}
        watched = {**spec, "trigger": {"on": "data", "poll": "1h"}}
        write_pipelines(project, {"alpha": spec, "beta": watched}, notify=notify)
        modelmill(prefect_server, project, "deploy", "--pool", "retire-pool")
        with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
            # beta's watcher polls on the same pool; beta's deployment runs one run at a time, started by its trigger
            watcher = client.read_deployment_by_name("watch-data/beta")
            assert watcher.work_pool_name == "retire-pool"
            assert [s.schedule.interval.total_seconds() for s in watcher.schedules] == [3600]
            beta = client.read_deployment_by_name("finetune/beta")
            assert beta.global_concurrency_limit is not None and beta.global_concurrency_limit.limit == 1
            (trigger,) = [a for a in client.read_automations() if a.name == "data-beta"]
            assert trigger.trigger.expect == {"modelmill.data.changed"}
            assert client.read_deployment_by_name("finetune/alpha").global_concurrency_limit is None
        # when beta leaves the file and the pipelines are deployed again, it says what it retired
        write_pipelines(project, {"alpha": spec}, notify=notify)
        redeployed = modelmill(prefect_server, project, "deploy", "--pool", "retire-pool")
        assert "Retired finetune/beta: pipeline 'beta' is no longer in pipelines.yaml." in redeployed.stdout
        with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
            names = {d.name for d in client.read_deployments(limit=50) if d.parameters.get("pipelines_file")}
            # then beta's deployments (its watcher too), trigger and alert are gone, alpha's are there
            assert "alpha" in names and "beta" not in names
            assert [a.name for a in client.read_automations() if a.name == "data-beta"] == []
            assert client.read_automations_by_name("modelmill-beta-crashed") == []
            assert len(client.read_automations_by_name("modelmill-alpha-crashed")) == 1
            # and when a run of alpha crashes (its process killed: no hook of its own can run)
            from prefect.states import Crashed

            alpha = client.read_deployment_by_name("finetune/alpha")
            run = client.create_flow_run_from_deployment(alpha.id, name="killed-run")
            client.set_flow_run_state(run.id, Crashed(message="Process exited with code -9"), force=True)
        # then the server's automation tells the on-call webhook, naming the pipeline and the run
        (message, *_) = hook.wait_for(1, timeout=patient(90))
        assert "alpha" in message["subject"] and "crashed" in message["subject"]
        assert "killed-run" in message["body"] and "code -9" in message["body"]


def test_serve_registers_the_pipelines_and_runs_what_the_file_says_at_run_time(
    prefect_server: RealServer, project: Path, tmp_path
):
    home = tmp_path / "serve-home"
    spec = yaml.safe_load((project / "pipelines.yaml").read_text())["pipelines"]["tiny"]
    write_pipelines(project, {"served": spec})
    # given `modelmill serve` running in the project folder
    server_env = prefect_server.env(MODELMILL_HOME=str(home))
    serving = subprocess.Popen(
        [str(BIN / "modelmill"), "serve"], cwd=project, env=server_env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
            deployment = wait_for(
                lambda: next((d for d in client.read_deployments(limit=50) if d.name == "served"), None),
                120, "serve to register its deployment", prefect_server,
            )
            assert deployment.parameters == {"pipeline": "served", "pipelines_file": "pipelines.yaml"}
            # when the served pipeline's threshold is raised in the file, then a run is started
            spec["evaluate"]["thresholds"] = {"accuracy": {"min": 0.0, "max": 0.01}}
            write_pipelines(project, {"served": spec})
            run = client.create_flow_run_from_deployment(deployment.id)
            final = wait_for(
                lambda: (r := client.read_flow_run(run.id)).state.is_final() and r, 180,
                "the served run to finish", prefect_server,
            )
        # then the run used the file as it is now: it failed on the new threshold, under a meaningful name
        assert final.state.is_failed(), final.state
        assert "ThresholdsNotMet" in (final.state.message or ""), final.state.message
        assert final.name.startswith("served-")
    finally:
        stop_serving(serving)


NAMED = re.compile(r"^owned-\d{8}-\d{6}-[0-9a-f]{6}(-[0-9a-f]{6})?$")


def test_serve_leaves_a_pool_deployment_alone_and_every_way_of_starting_a_run_names_it(
    prefect_server: RealServer, project: Path, tmp_path
):
    spec = yaml.safe_load((project / "pipelines.yaml").read_text())["pipelines"]["tiny"]
    write_pipelines(project, {"owned": spec})
    home = tmp_path / "home"
    # given the pipeline deployed to a work pool
    modelmill(prefect_server, project, "deploy", "--pool", "owner-pool", MODELMILL_HOME=str(home))
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
        deployed = client.read_deployment_by_name("finetune/owned")
    # which names no path of this host: its pull step enters the worker's project folder
    assert deployed.pull_steps == [{"modelmill.runtime.project.enter_project": {"pipelines_file": "pipelines.yaml"}}]
    # when `modelmill serve` is started for the same file, it refuses and says who owns the deployment
    served = subprocess.run([str(BIN / "modelmill"), "serve"], cwd=project, env=prefect_server.env(),
                            capture_output=True, text=True, timeout=patient(180))
    assert served.returncode == 1 and "finetune/owned (work pool 'owner-pool') already run on a work pool" in (
        served.stderr), served.stdout + served.stderr
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
        # then the pool deployment is as it was: not paused, same pool and pull step, its schedule creating runs
        after = client.read_deployment_by_name("finetune/owned")
        assert (after.paused, after.work_pool_name, after.pull_steps) == (False, "owner-pool", deployed.pull_steps)
        by_deployment = FlowRunFilter(deployment_id={"any_": [after.id]})
        scheduled = wait_for(
            lambda: [r for r in client.read_flow_runs(flow_run_filter=by_deployment, limit=20) if r.state.is_scheduled()],
            90, "the scheduler to create runs", prefect_server,
        )
        # and runs started every way a person or the schedule starts them: a scheduled run come due, the UI form
        # with the name it pre-fills, and `prefect deployment run` with no name
        due = scheduled[0]
        client.set_flow_run_state(due.id, Scheduled(scheduled_time=datetime.now(timezone.utc)), force=True)
        form = client.create_flow_run_from_deployment(after.id, name="Sleek-Jaguar")
    assert prefect_server.cli("deployment", "run", "finetune/owned").returncode == 0
    # when a worker started elsewhere, pointed at the project by MODELMILL_PROJECT_ROOT, runs them
    worker = prefect_server.cli("worker", "start", "--pool", "owner-pool", "--run-once", timeout=patient(480), cwd=tmp_path,
                                MODELMILL_PROJECT_ROOT=str(project))
    assert worker.returncode == 0, worker.stdout + worker.stderr
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
        finished = [r for r in client.read_flow_runs(flow_run_filter=by_deployment, limit=50) if r.state.is_final()]
    # then each completed under `<pipeline>-<time to the second>-<spec hash>`, and no two share a name
    assert {due.id, form.id} <= {run.id for run in finished} and len(finished) == 3, [(r.name, r.state) for r in finished]
    assert all(run.state.is_completed() for run in finished), [(r.name, r.state.message) for r in finished]
    assert all(NAMED.match(run.name) for run in finished), [run.name for run in finished]
    assert len({run.name for run in finished}) == 3
