"""Two runs of one pipeline at once, as two processes on one server: neither corrupts the other."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import datasets
import numpy as np
import pytest
import yaml

from modelmill.evaluation.scoring import predict
from tests.patience import patient
from tests.server.conftest import BIN, RealServer, write_pipelines


def reported(output: str) -> tuple[Path, float]:
    """The model folder and the test accuracy that `modelmill run` printed."""
    model = re.search(r"^Model: (.+)$", output, re.MULTILINE)
    accuracy = re.search(r"^\| accuracy \| ([0-9.]+) \|", output, re.MULTILINE)
    assert model and accuracy, output
    return Path(model.group(1)), float(accuracy.group(1))


def test_two_simultaneous_runs_share_one_training_and_report_the_model_they_publish(
    prefect_server: RealServer, project: Path, tmp_path
):
    # given a pipeline whose training lasts long enough (~300 steps) that two runs overlap in it
    spec = yaml.safe_load((project / "pipelines.yaml").read_text())["pipelines"]["tiny"]
    spec["train"].update(max_steps=300, eval_strategy="steps", eval_steps=300, logging_steps=50)
    write_pipelines(project, {"tiny": spec})
    home = tmp_path / "home"
    env = prefect_server.env(MODELMILL_HOME=str(home))
    command = [str(BIN / "modelmill"), "run", "tiny"]
    # when two runs of the same pipeline start at the same moment
    runs = [subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)]
    outputs = [process.communicate(timeout=patient(300))[0] for process in runs]
    # then both succeed, one trained and the other waited for it and reused its model
    assert [process.returncode for process in runs] == [0, 0], "\n".join(outputs)
    (path_a, accuracy_a), (path_b, accuracy_b) = map(reported, outputs)
    assert path_a == path_b and accuracy_a == accuracy_b
    assert sum("Cached stages: " in out and "train" in out.split("Cached stages: ")[1].splitlines()[0]
               for out in outputs) == 1, "exactly one run reused the other's training"
    (published,) = [p for p in path_a.parent.iterdir() if not p.name.startswith(".")]
    assert published == path_a, "the model of a key is published once"
    # and the published model really has the accuracy both runs report
    (tokens,) = (home / "artifacts" / "tokenized").glob("*/*/dataset")
    predictions, references = predict(path_a, datasets.load_from_disk(str(tokens))["test"], 16)
    assert float(np.mean(predictions == references)) == pytest.approx(accuracy_a, abs=5e-5), "printed to 4 places"
