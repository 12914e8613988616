"""Fill-mask (domain adaptation): its own metrics by default, unbounded thresholds on them, text checked with its
row and column, and its metrics refused elsewhere."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from modelmill.config import DataSpec, load_pipelines
from modelmill.runtime.errors import ConfigError, DataError
from modelmill.task_types.fill_mask import TASK
from tests.conftest import pipeline_dict, review_rows, write_jsonl


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


def chain(tiny_model_dir: Path, tmp_path: Path) -> dict[str, Any]:
    """A fill-mask pipeline `mlm` and a classifier `reviews` that starts from its model."""
    files = {split: write_jsonl(tmp_path / f"{split}.jsonl", [{"text": "the film was good"}] * 3)
             for split in ("train", "validation", "test")}
    adapt = pipeline_dict(tiny_model_dir, files)
    adapt.update(task="fill-mask", data={"files": {k: str(v) for k, v in files.items()}}, evaluate={})
    del adapt["validation"]
    reviews = {split: write_jsonl(tmp_path / f"reviews-{split}.jsonl", review_rows(seed, 6))
               for seed, split in enumerate(("train", "validation", "test"))}
    classify = pipeline_dict(tiny_model_dir, reviews)
    classify["model"] = {"from_pipeline": "mlm"}
    return {"mlm": adapt, "reviews": classify}


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: p["reviews"]["model"].update(from_pipeline="nowhere"),
     "pipelines.reviews.model.from_pipeline: no pipeline named 'nowhere'; known: mlm, reviews"),
    (lambda p: p["reviews"]["model"].update(from_pipeline="../mlm"),
     "pipelines.reviews.model.from_pipeline: String should match pattern"),  # a pipeline's name, never a path
    (lambda p: p["reviews"]["model"].update(from_pipeline="/etc/mlm"),
     "pipelines.reviews.model.from_pipeline: String should match pattern"),
    (lambda p: p["mlm"].update(task="text-classification"),
     "pipelines.reviews.model.from_pipeline: 'mlm' is a text-classification pipeline; a model starts from a "
     "fill-mask pipeline's domain-adapted model"),
    (lambda p: p["mlm"].update(model={"from_pipeline": "again"}) or p.update(again={**p["mlm"], "model": {
        "from_pipeline": "mlm"}}), "pipelines.again.model.from_pipeline: 'mlm' loops back (mlm -> again -> mlm)"),
    (lambda p: p["reviews"]["model"].update(name_or_path="bert-base-uncased"),
     "give exactly one of name_or_path or from_pipeline"),
    (lambda p: p["reviews"]["model"].update(from_config=True), "from_pipeline starts from that pipeline's trained "
     "weights: remove from_config"),
    (lambda p: p["mlm"]["model"].update(compare_unadapted=True), "compare_unadapted compares with the model a "
     "from_pipeline pipeline adapted; give from_pipeline"),
    (lambda p: p["reviews"]["model"].update(compare_unadapted=True) or p["reviews"].update(search={
        "trials": 2, "space": {"epochs": {"choice": [1, 2]}}}), "model.compare_unadapted fine-tunes the unadapted model with "
     "`train`'s settings, a search picks others: remove one"),
    (lambda p: p["reviews"]["evaluate"].update(retention={"file": "general.csv"}),
     "evaluate.retention is not available for task text-classification; remove it"),
])
def test_a_chain_of_pipelines_is_checked_at_load(write_pipelines, tiny_model_dir, tmp_path, change, message):
    pipelines = chain(tiny_model_dir, tmp_path)
    load_pipelines(write_pipelines(pipelines))  # as written: a valid chain
    change(pipelines)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_pipelines(write_pipelines(pipelines))


def test_a_chained_run_resolves_its_upstream_and_its_spec_hash_follows_it(write_pipelines, tiny_model_dir, tmp_path):
    from modelmill.config import RunOverrides, resolve_run
    from modelmill.runtime.preflight import problems_of

    pipelines = chain(tiny_model_dir, tmp_path)
    path = write_pipelines(pipelines)
    run = resolve_run("reviews", path, RunOverrides())
    assert run.upstream.pipeline == "mlm" and run.upstream.upstream is None and run.spec.model.origin == "pipeline:mlm"
    # the upstream's spec shapes the model: its change is a new spec hash downstream
    pipelines["mlm"]["train"]["epochs"] = 5
    assert resolve_run("reviews", write_pipelines(pipelines), RunOverrides()).spec_hash != run.spec_hash
    # `modelmill check` of the downstream pipeline reports the upstream's problems (its only one) as the upstream's
    pipelines["mlm"]["data"]["files"]["test"] = str(tmp_path / "missing.jsonl")
    (problem,) = problems_of(write_pipelines(pipelines), {"reviews": run.spec})["reviews"]
    assert problem == (f"pipeline 'mlm', whose model 'reviews' starts from: {tmp_path / 'missing.jsonl'}: data file "
                       "for split 'test' not found")


def test_a_retention_set_is_read_before_any_work_with_its_file_and_row(write_pipelines, tiny_model_dir, tmp_path):
    from modelmill.runtime.preflight import problems_of

    pipelines = chain(tiny_model_dir, tmp_path)
    general = write_jsonl(tmp_path / "general.jsonl", [{"text": "a day in the park"}, {"text": " "}])
    pipelines["mlm"]["evaluate"] = {"retention": {"file": str(general), "max_increase": 0.5}}
    path = write_pipelines(pipelines)
    spec = load_pipelines(path).pipelines["mlm"]
    assert spec.evaluate.retention.max_increase == 0.5
    (problem,) = problems_of(path, {"mlm": spec})["mlm"]
    assert problem == (f"pipelines.mlm.evaluate.retention.file: {general} (evaluate.retention): row 2: column "
                       "'text' is empty or not text")


def test_a_fine_tune_no_better_than_the_model_it_started_from_fails_the_untuned_gate(tiny_model_dir, tmp_path):
    import datasets
    from transformers import AutoModelForMaskedLM, AutoTokenizer, set_seed

    from modelmill.config import EvaluateSpec, ModelSpec
    from modelmill.evaluation.gates import check_untuned, lost_to_untuned
    from modelmill.manifests import DataManifest, ModelManifest
    from modelmill.task_types.fill_mask import masked_lm_loss
    from modelmill.task_types.scored import untuned_scores

    # given a masked LM whose "adaptation" changed nothing: the model it started from, as it was
    start = tmp_path / "start"
    set_seed(0)
    AutoModelForMaskedLM.from_pretrained(tiny_model_dir).save_pretrained(start)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.save_pretrained(start)
    test = datasets.Dataset.from_list(review_rows(3, 16)).map(
        lambda batch: tokenizer(batch["text"], truncation=True, return_special_tokens_mask=True), batched=True)
    model = ModelManifest(key="m", path=start, base_model=str(start), started_from=ModelSpec(name_or_path=str(start)),
                          labels=[], device="cpu", training_arguments={"seed": 0})
    data = DataManifest(key="d", path=tmp_path, fingerprint="f", labels=[], label_ids={}, text_column="text",
                        label_column="label", num_rows={"test": 16}, source="reviews", task="fill-mask")
    spec = EvaluateSpec(metrics=["perplexity", "mlm_loss"])
    # when it is scored beside the untuned model on the same fixed masks
    untuned = untuned_scores(TASK, model, test, data, spec)
    ours = TASK.score(start, [], test, data, spec, [])
    # then both measure the same loss, and the gate (a perplexity must fall) refuses it with what to try
    assert untuned.name == "untuned" and untuned.description == f"{start} before fine-tuning"
    assert untuned.scores.metrics["mlm_loss"] == pytest.approx(masked_lm_loss(start, test, 64))
    gate = check_untuned(ours.metrics, untuned, "perplexity")
    assert not gate.passed and gate.bounds == f"< {untuned.scores.metrics['perplexity']:.4f}"
    message = lost_to_untuned(gate, untuned)
    assert message.startswith("Lost to the untuned model: perplexity ") and "(0.0000 behind)" in message
    assert message.endswith("evaluate.baselines.must_beat: [].")
    assert check_untuned({"perplexity": ours.metrics["perplexity"] - 1}, untuned, "perplexity").passed
