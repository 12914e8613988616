"""Deployments: one per pipeline, with the YAML's cron schedule, naming the pipeline and its file (no spec)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployments.pipelines import build_deployments
from modelmill.runtime.errors import ConfigError

REPO_ROOT = Path(__file__).parents[1]
FORM = {
    "pipeline", "pipelines_file", "epochs", "learning_rate", "batch_size", "max_steps", "seed", "search_trials",
    "force_retrain", "dry_run", "note",
}


def test_each_pipeline_becomes_a_scheduled_deployment_that_reads_its_file_at_run_time(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    (deployment,) = build_deployments("pipelines.yaml")
    assert deployment.name == "sentiment"
    assert [s.schedule.cron for s in deployment.schedules] == ["0 3 * * 1"]
    assert deployment.parameters == {"pipeline": "sentiment", "pipelines_file": "pipelines.yaml"}


def test_the_run_form_is_a_small_flat_set_of_described_typed_overrides(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    (deployment,) = build_deployments(REPO_ROOT / "pipelines.yaml")
    schema = deployment._parameter_openapi_schema
    assert set(schema.properties) == FORM and len(FORM) < 20
    assert schema.required == ["pipeline"]
    for name, field in schema.properties.items():
        assert field.get("description"), f"form field {name} has no description"
        assert "$ref" not in str(field) and "allOf" not in str(field), f"form field {name} is nested"
    learning_rate = schema.properties["learning_rate"]
    assert {"type": "number", "exclusiveMinimum": 0, "maximum": 10.0} in learning_rate["anyOf"], "bounded as the YAML"
    assert {"type": "number", "exclusiveMinimum": 0, "maximum": 1000} in schema.properties["epochs"]["anyOf"]


def test_a_pipelines_file_outside_the_project_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="must be inside the project folder"):
        build_deployments(REPO_ROOT / "pipelines.yaml")


@pytest.mark.parametrize("locks", ["redis://:s3cret@127.0.0.1:6379/0", "redis://127.0.0.1:6379/0?password=s3cret",
                                   "rediss://127.0.0.1:6380/0?ssl_cert_reqs=none&Password=s3cret"])
def test_a_lock_url_with_a_password_in_any_form_is_never_stored_in_a_deployment(locks):
    from deployments.pipelines import shared_settings

    said: list[str] = []
    shared = shared_settings({"MODELMILL_LOCKS": locks, "MODELMILL_HOME": "s3://bucket/home"}, announce=said.append)
    assert shared == {"MODELMILL_HOME": "s3://bucket/home"} and "s3cret" not in repr(shared)
    assert said and "set it in the workers' environment" in said[0]
    plain = shared_settings({"MODELMILL_LOCKS": "redis://127.0.0.1:6379/0?db=1"}, announce=said.append)
    assert plain == {"MODELMILL_LOCKS": "redis://127.0.0.1:6379/0?db=1"}


def test_a_deployment_whose_serve_process_was_killed_is_taken_over_and_a_live_one_is_refused(monkeypatch):
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace

    from deployments import pipelines

    now = datetime.now(timezone.utc)
    served = {"live": SimpleNamespace(work_pool_name=None, paused=False, last_polled=now - timedelta(seconds=8),
                                      updated=now - timedelta(days=1)),
              "killed": SimpleNamespace(work_pool_name=None, paused=False, last_polled=now - timedelta(minutes=30),
                                        updated=now - timedelta(days=1)),
              "stopped": SimpleNamespace(work_pool_name=None, paused=True, last_polled=None, updated=now)}
    monkeypatch.setattr(pipelines, "owners", lambda names: {name: served[name] for name in names})
    said: list[str] = []
    pipelines.refuse_served_deployments(["killed", "stopped"], announce=said.append)
    assert len(said) == 1 and said[0].startswith("Taking over finetune/killed: the `modelmill serve` that served it "
                                                 "has not polled for 1800 s")
    with pytest.raises(ConfigError, match=r"finetune/live are served by a `modelmill serve` process \(polled 8 s ago\)"
                                          r".*prefect deployment pause finetune/<pipeline>"):
        pipelines.refuse_served_deployments(["live", "killed"], announce=said.append)


def test_a_data_trigger_adds_a_watcher_and_a_trigger_and_runs_one_at_a_time(tmp_path, monkeypatch):
    import yaml

    spec = yaml.safe_load((REPO_ROOT / "pipelines.yaml").read_text())["pipelines"]["sentiment"]
    spec["data"]["files"] = {split: str(REPO_ROOT / path) for split, path in spec["data"]["files"].items()}
    spec["trigger"] = {"on": "data", "poll": "2m", "debounce": "10m"}
    (tmp_path / "pipelines.yaml").write_text(yaml.safe_dump({"pipelines": {"news": spec, "plain": {
        **spec, "trigger": None}}}))
    monkeypatch.chdir(tmp_path)
    news, plain, watcher = build_deployments("pipelines.yaml")
    assert (news.flow_name, plain.flow_name, watcher.flow_name) == ("finetune", "finetune", "watch-data")
    assert watcher.name == "news" and [s.schedule.interval.total_seconds() for s in watcher.schedules] == [120]
    assert watcher.parameters == news.parameters == {"pipeline": "news", "pipelines_file": "pipelines.yaml"}
    (trigger,) = news.triggers
    assert trigger.expect == {"modelmill.data.changed"} and trigger.for_each == {"modelmill.data.change"}
    assert news.concurrency_limit == 1
    assert plain.triggers == [] and plain.concurrency_limit is None
