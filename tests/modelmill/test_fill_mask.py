"""Fill-mask (domain adaptation): its own metrics by default, unbounded thresholds on them, text checked with its
row and column, and its metrics refused elsewhere."""

from __future__ import annotations

import re

import pytest

from modelmill.config import DataSpec, load_pipelines
from modelmill.runtime.errors import ConfigError, DataError
from modelmill.task_types.fill_mask import TASK
from tests.conftest import pipeline_dict, write_jsonl


def test_fill_mask_measures_perplexity_by_default_and_its_bounds_are_not_fractions(write_pipelines, tiny_model_dir,
                                                                                  tmp_path):
    files = {split: write_jsonl(tmp_path / f"{split}.jsonl", [{"text": "the film was good"}] * 3)
             for split in ("train", "validation", "test")}
    spec = pipeline_dict(tiny_model_dir, files)
    spec.update(task="fill-mask", data={"files": {k: str(v) for k, v in files.items()}},
                evaluate={"thresholds": {"perplexity": {"max": 40}}})
    del spec["validation"]
    pipeline = load_pipelines(write_pipelines({"mlm": spec})).pipelines["mlm"]
    assert pipeline.evaluate.metrics == ["perplexity", "mlm_loss"]
    assert pipeline.evaluate.thresholds["perplexity"].max == 40
    text = pipeline_dict(tiny_model_dir, files)
    text["evaluate"]["metrics"] = ["accuracy", "perplexity"]
    with pytest.raises(ConfigError, match=re.escape("evaluate.metrics: ['perplexity'] are not text-classification")):
        load_pipelines(write_pipelines({"text": text}))


def test_an_empty_text_is_refused_with_its_row_and_column(tmp_path):
    files = {split: write_jsonl(tmp_path / f"{split}.jsonl", [{"text": "fine"}]) for split in ("train", "validation")}
    files["test"] = write_jsonl(tmp_path / "test.jsonl", [{"text": "fine"}, {"text": ""}])
    with pytest.raises(DataError, match=re.escape(f"{files['test']}: row 2: column 'text' is empty or not text")):
        TASK.read(DataSpec(files=files))
