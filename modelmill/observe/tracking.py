"""Experiment tracking, opt-in (`observe.tracking: mlflow | tensorboard`): the training's parameters and curves go
to a local MLflow file store or TensorBoard folder under the home, through the libraries' own callbacks in
transformers (`report_to`, set here and never by the user), and the test metrics join them at evaluation.

The train stage names the target in the environment for the duration of its training, so that torchrun's
processes track too; nothing of MLflow or TensorBoard is imported while tracking is off. What is logged is what
transformers logs of `TrainingArguments` (tokens redacted), the training curves and the test metrics: never the
environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelmill.runtime.environment import environment
from modelmill.storage.settings import get_settings

TRACKING = "MODELMILL_TRACKING"  # "mlflow" or "tensorboard" while a tracked training runs
RUN_NAME = "MODELMILL_TRACKING_RUN"


def safe_name(name: str) -> str:
    """A run name as a folder name: a name typed in the UI never leaves the store (`..`, `/`)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)[:100] or "run"


def store(kind: str) -> Path:
    """Where a kind of tracking keeps its records on this machine: `<home>/tracking/mlruns` or `.../tensorboard`."""
    return get_settings().local_home / "tracking" / ("mlruns" if kind == "mlflow" else "tensorboard")


def mlflow_environment(pipeline: str) -> dict[str, str]:
    return {
        "MLFLOW_TRACKING_URI": store("mlflow").resolve().as_uri(),
        "MLFLOW_ALLOW_FILE_STORE": "true",  # MLflow 3 keeps its file store behind this opt-in
        "MLFLOW_EXPERIMENT_NAME": pipeline,
        "HF_MLFLOW_LOG_ARTIFACTS": "FALSE",  # parameters, curves and metrics; the model stays in the home
    }


@contextmanager
def tracked(kind: str, pipeline: str, run_name: str) -> Iterator[None]:
    """While the block trains, the training reports to `kind` under `run_name` (nothing for `none`)."""
    if kind == "none":
        yield
        return
    folder = store(kind) / safe_name(pipeline) / safe_name(run_name)
    values = {TRACKING: kind, RUN_NAME: run_name,
              **(mlflow_environment(pipeline) if kind == "mlflow" else {"TENSORBOARD_LOGGING_DIR": str(folder)})}
    with environment(**values):
        yield


def reporting_arguments() -> dict[str, object]:
    """The TrainingArguments that send the curves where `tracked` said (`report_to: none` otherwise)."""
    kind = os.environ.get(TRACKING)
    if kind not in ("mlflow", "tensorboard"):
        return {"report_to": "none"}
    return {"report_to": [kind], "run_name": os.environ.get(RUN_NAME)}


def log_test_metrics(kind: str, pipeline: str, run_name: str, metrics: dict[str, float]) -> None:
    """The test metrics, beside the training's curves (`test_<metric>`); a tracking store that fails is a warning,
    never the run's failure."""
    try:
        with tracked(kind, pipeline, run_name):
            _log(kind, pipeline, run_name, metrics)
    except Exception as exc:
        from prefect.logging import get_run_logger

        get_run_logger().warning("The test metrics did not reach %s: %s: %s", kind, type(exc).__name__, exc)


def _log(kind: str, pipeline: str, run_name: str, metrics: dict[str, float]) -> None:
    if kind == "mlflow":
        from mlflow.tracking import MlflowClient

        client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
        experiment = client.get_experiment_by_name(pipeline) or client.get_experiment(
            client.create_experiment(pipeline))
        runs = [run for run in client.search_runs([experiment.experiment_id], max_results=1000)
                if run.info.run_name == run_name]  # the training's run, found without a filter string
        run_id = runs[0].info.run_id if runs else client.create_run(experiment.experiment_id, run_name=run_name
                                                                     ).info.run_id
        for name, value in metrics.items():
            client.log_metric(run_id, f"test_{name}", value)
        if not runs:
            client.set_terminated(run_id)
    elif kind == "tensorboard":
        from torch.utils.tensorboard import SummaryWriter

        with SummaryWriter(os.environ["TENSORBOARD_LOGGING_DIR"]) as writer:
            for name, value in metrics.items():
                writer.add_scalar(f"test/{name}", value)
