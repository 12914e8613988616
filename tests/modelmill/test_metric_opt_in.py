"""Metric code runs only with `evaluate.trust_remote_code: true`: the shipped metrics are their exact names, and a
path that ends in one, climbs out of the shipped folder or links to it is someone else's code, never imported
before the opt-in (not even by `modelmill check`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelmill.cli import main
from modelmill.runtime.errors import ConfigError
from modelmill.metrics import LOCAL_METRICS, load_metric
from modelmill.config.file import load_pipelines
from tests.conftest import pipeline_dict

METRIC = '''
import pathlib
pathlib.Path({marker!r}).write_text("imported")
import datasets
import evaluate


class Planted(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description="", citation="", inputs_description="", features=datasets.Features(
            {{"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}}))

    def _compute(self, predictions, references):
        return {{"planted": 1.0}}
'''


def plant(folder: Path, name: str, marker: Path) -> Path:
    """A metric module `folder/name/name.py` that leaves `marker` behind when it is imported."""
    module = folder / name
    module.mkdir(parents=True)
    (module / f"{name}.py").write_text(METRIC.format(marker=str(marker)))
    return module


def references(tmp_path: Path, marker: Path) -> dict[str, str]:
    """Every way of naming planted code that once counted as shipped, or might."""
    absolute = plant(tmp_path / "abs", "accuracy", marker)  # an absolute folder named like a shipped metric
    climbing = plant(tmp_path / "climb", "evil", marker)
    relative = os.path.relpath(climbing, LOCAL_METRICS / "accuracy")
    (tmp_path / "linked").symlink_to(LOCAL_METRICS / "accuracy", target_is_directory=True)
    return {
        "absolute folder named like a shipped metric": str(absolute),
        "a shipped name climbing out with ..": f"accuracy/{relative}",
        # a task type's own module (ROUGE for summarization) is its exact name too
        "a task type's module name climbing out with ..": f"rouge/{os.path.relpath(climbing, LOCAL_METRICS / 'rouge')}",
        "a symlink to the shipped folder": str(tmp_path / "linked"),
        "a relative folder": "./abs/accuracy",
    }


@pytest.mark.parametrize("how", ["absolute folder named like a shipped metric", "a shipped name climbing out with ..",
                                 "a task type's module name climbing out with ..", "a symlink to the shipped folder",
                                 "a relative folder"])
def test_a_metric_that_is_not_a_shipped_name_needs_the_opt_in_and_is_never_imported(
    tmp_path, write_pipelines, tiny_model_dir, review_files, capsys, how
):
    marker = tmp_path / "imported.txt"
    name = references(tmp_path, marker)[how]
    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["evaluate"] = {"metrics": ["accuracy", name]}
    path = write_pipelines({"tiny": spec})
    with pytest.raises(ConfigError, match="set evaluate.trust_remote_code: true"):
        load_pipelines(path)
    assert main(["check", "-f", str(path)]) == 1
    assert "trust_remote_code" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="not shipped with modelmill"):
        load_metric(name)
    assert not marker.exists(), "the planted module ran"


def test_with_the_opt_in_a_local_metric_module_loads(tmp_path, write_pipelines, tiny_model_dir, review_files):
    marker = tmp_path / "imported.txt"
    module = plant(tmp_path, "planted", marker)
    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["evaluate"] = {"metrics": ["accuracy", str(module)], "trust_remote_code": True}
    assert load_pipelines(write_pipelines({"tiny": spec}))
    assert load_metric(str(module), True).compute(predictions=[1], references=[1]) == {"planted": 1.0}
    assert marker.exists()


def test_the_shipped_names_load_offline_without_the_opt_in():
    assert load_metric("accuracy").compute(predictions=[0, 1], references=[0, 0]) == {"accuracy": 0.5}


def test_the_shipped_metrics_computed_directly_equal_their_evaluate_modules():
    import numpy as np

    from modelmill.metrics import SHIPPED_METRICS
    from modelmill.metrics.formulas import compute_shipped

    rng = np.random.default_rng(0)
    references, predictions = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    for name in SHIPPED_METRICS:
        for average in ("macro", "micro", "weighted") if name != "accuracy" else (None,):
            kwargs = {"average": average} if average else {}
            module = load_metric(name).compute(predictions=predictions, references=references, **kwargs)
            assert compute_shipped(name, predictions, references, **kwargs) == module, (name, average)


def test_an_opted_in_hub_metric_offline_is_named_as_such_not_as_missing_from_the_hub():
    # given HF_HUB_OFFLINE (the tests' environment) and an opted-in metric that is neither shipped nor a folder
    with pytest.raises(ConfigError) as refused:
        load_metric("bleu", trust_remote_code=True)
    # then the message says the Hub is off and what to use instead, never that the Hub lacks it
    message = str(refused.value)
    assert "the Hub is off here (HF_HUB_OFFLINE)" in message and "accuracy, precision, recall, f1" in message
    assert "Hub either" not in message
