"""Experiment tracking, opt-in: MLflow's file store or TensorBoard's folder under the home gets the training's
parameters and curves and the test metrics; a canary token never reaches them; off, nothing of them is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import pipeline_dict
from tests.patience import patient

CANARY = "hf_canary_tracking_0123456789abcdef"


def stored_bytes(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in folder.rglob("*") if path.is_file())


def test_mlflow_gets_the_parameters_curves_and_test_metrics_and_never_the_token(
    prefect, run, tiny_model_dir, review_files, own_home, monkeypatch
):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("HF_TOKEN", CANARY)
    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["observe"] = {"tracking": "mlflow"}
    state, stages = run(spec, dry_run=True)
    assert state.is_completed(), state.message
    summary = state.result()
    store = own_home / "tracking" / "mlruns"
    client = MlflowClient(store.resolve().as_uri())
    experiment = client.get_experiment_by_name("tiny")
    (tracked,) = client.search_runs([experiment.experiment_id])
    # the run is the flow run, with the training's arguments, its loss curve and the test metrics
    assert tracked.info.run_name == summary.run_name
    assert tracked.data.params["learning_rate"] == "0.005" and tracked.data.params["seed"] == "42"
    assert [point.step for point in client.get_metric_history(tracked.info.run_id, "loss")]
    assert tracked.data.metrics["test_accuracy"] == summary.evaluation.metrics["accuracy"]
    assert CANARY.encode() not in stored_bytes(store)
    # a re-run whose training is cached logs nothing again
    run(spec, dry_run=True)
    assert len(client.search_runs([experiment.experiment_id])) == 1


def test_tensorboard_gets_the_curves_and_test_metrics(prefect, run, tiny_model_dir, review_files, own_home,
                                                      monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv("HF_TOKEN", CANARY)
    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["observe"] = {"tracking": "tensorboard"}
    state, _ = run(spec, dry_run=True)
    summary = state.result()
    folder = own_home / "tracking" / "tensorboard" / "tiny" / summary.run_name
    events = EventAccumulator(str(folder))
    events.Reload()
    assert "train/loss" in events.Tags()["scalars"] and "test/accuracy" in events.Tags()["scalars"]
    assert events.Scalars("test/accuracy")[-1].value == pytest.approx(summary.evaluation.metrics["accuracy"])
    assert CANARY.encode() not in stored_bytes(own_home / "tracking")


def test_with_tracking_off_nothing_of_it_is_imported(write_pipelines, tiny_model_dir, review_files, tmp_path):
    path = write_pipelines({"tiny": pipeline_dict(tiny_model_dir, review_files)})
    script = ("import sys; from modelmill.cli import main; code = main(['run', 'tiny', '-f', sys.argv[1], "
              "'--dry-run']); print(sorted({m.split('.')[0] for m in sys.modules} & {'mlflow', 'tensorboard', "
              "'tensorboardX'})); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                          timeout=patient(300), env={**os.environ, "MODELMILL_HOME": str(tmp_path / "h")})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"')) == []
