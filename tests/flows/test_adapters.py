"""LoRA adapters end to end with tiny config-built models: every task type trains, evaluates and releases its
adapter (not a whole model) and re-runs cached; the loopback Hub receives an adapter with a card that names its
base, a champion adapter is compared on the same base and refused on another, and `merge: true` releases the
merged model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelmill.task_types import task_type
from modelmill.training.adapters import ADAPTER_CONFIG, ADAPTER_WEIGHTS, RECORD
from tests.conftest import (
    CHATML,
    LEARNS_THE_TASK,
    chat_rows,
    ner_rows,
    pipeline_dict,
    qa_rows,
    review_rows,
    summary_rows,
    write_jsonl,
)
from tests.flows.conftest import STAGES

LORA = {"r": 4, "alpha": 16, "dropout": 0.0}


def jsonl_files(folder: Path, rows: Any, counts: tuple[int, int, int] = (48, 8, 8)) -> dict[str, str]:
    return {split: str(write_jsonl(folder / f"{split}.jsonl", rows(seed, count)))
            for seed, split, count in zip((1, 2, 3), ("train", "validation", "test"), counts, strict=True)}


def adapter_pipeline(task: str, folder: Path, models: dict[str, Path]) -> dict[str, Any]:
    """A short LoRA fine-tune of `task` on the tests' rows (gates at zero: the flow, not the quality, is tested)."""
    if task == "text-classification":
        spec = pipeline_dict(models["bert"], {})
        # 24 held-out rows, not 8: the tiny tokenizer's vocabulary differs between sessions (WordPiece's trainer
        # breaks ties at random), and on 8 rows a good adapter scored chance in one session of several
        spec["data"]["files"] = jsonl_files(folder, review_rows, (48, 24, 24))
        spec["train"].update(LEARNS_THE_TASK, learning_rate=1e-2)
    else:
        settings: dict[str, Any] = {
            "token-classification": (models["bert"], ner_rows, {"metrics": ["f1"], "thresholds": {"f1": {"min": 0}}}),
            "question-answering": (models["bert"], qa_rows, {"metrics": ["f1"], "thresholds": {"f1": {"min": 0}}}),
            "summarization": (models["bart"], summary_rows, {"metrics": ["rouge1"],
                                                             "thresholds": {"rouge1": {"min": 0}},
                                                             "generation": {"max_new_tokens": 6}}),
            "fill-mask": (models["bert"], lambda seed, n: [{"text": row["text"]} for row in review_rows(seed, n)],
                          {"thresholds": {"perplexity": {"max": 10_000}}}),
            "text-generation": (models["llama"], chat_rows, {"thresholds": {"exact_match": {"min": 0}},
                                                             "generation": {"max_new_tokens": 4}}),
        }
        model, rows, evaluate = settings[task]
        spec = pipeline_dict(model, {})
        spec.update(task=task, data={"files": jsonl_files(folder, rows)}, validation={"expectations": []},
                    evaluate={**evaluate, **({"baselines": {"must_beat": []}} if task_type(task).baselines else {})})
        spec["model"]["from_config"] = model != models["bert"]  # the built models have no pretrained weights
        spec["train"].update(epochs=2, learning_rate=2e-2)
        spec["tokenizer"] = {"max_length": 40, **({"chat_template": write_template(folder)}
                                                  if task == "text-generation" else {})}
    spec["train"]["adapter"] = dict(LORA)
    if task == "text-classification":  # the tiny base's weights are random: a wider adapter learns the task
        spec["train"]["adapter"].update(r=16, alpha=32)
    return spec


def write_template(folder: Path) -> str:
    path = folder / "chatml.jinja"
    path.write_text(CHATML, encoding="utf-8")
    return str(path)


@pytest.fixture
def models(tiny_model_dir, tiny_seq2seq_dir, tiny_chat_dir) -> dict[str, Path]:
    return {"bert": tiny_model_dir, "bart": tiny_seq2seq_dir, "llama": tiny_chat_dir}


@pytest.mark.parametrize("task", ["token-classification", "question-answering", "summarization", "fill-mask",
                                  "text-generation"])
def test_every_task_type_trains_evaluates_and_releases_an_adapter_then_reruns_cached(prefect, run, models, tmp_path,
                                                                                     task):
    spec = adapter_pipeline(task, tmp_path / "data", models)
    state, stages = run(spec)
    assert state.is_completed(), state.message
    assert stages == {stage: "Completed" for stage in STAGES}
    summary = state.result()
    trained = {path.name for path in summary.model_path.iterdir()}
    assert {ADAPTER_CONFIG, ADAPTER_WEIGHTS, RECORD} <= trained and "model.safetensors" not in trained
    assert summary.evaluation.metrics, "evaluated as base + adapter"
    pushed = summary.push.folder
    assert (pushed / ADAPTER_WEIGHTS).is_file() and not (pushed / "model.safetensors").exists()
    assert "model" not in json.loads((pushed / RECORD).read_text()), "the local spec of the base stays here"
    metadata = yaml.safe_load((pushed / "README.md").read_text(encoding="utf-8").split("---")[1])
    assert metadata["library_name"] == "peft"
    _, again = run(spec)
    assert again == {stage: "Cached" for stage in STAGES}


def test_a_classifier_adapter_reruns_cached_reaches_the_hub_and_meets_its_champion_on_its_base_only(
    prefect, run, hub, hub_token, models, tmp_path
):
    from peft import PeftConfig

    spec = adapter_pipeline("text-classification", tmp_path / "data", models)
    spec["push"]["endpoint"] = hub.url
    spec["evaluate"]["promote"] = {"metric": "accuracy"}
    first, stages = run(spec)
    assert first.is_completed() and first.result().promoted, first.message
    summary = first.result()
    assert summary.evaluation.metrics["accuracy"] > 0.5, "better than chance on a base of random weights"
    repo = hub.state.repos["tests/tiny-sentiment"]
    (release,) = repo.releases
    files = set(release.files)
    assert {ADAPTER_CONFIG, ADAPTER_WEIGHTS, RECORD, "README.md"} <= files and "model.safetensors" not in files
    assert len(release.files[ADAPTER_WEIGHTS].content) < (models["bert"] / "model.safetensors").stat().st_size
    card = release.files["README.md"].content.decode()
    assert "library_name: peft" in card and "LoRA adapter" in card and str(tmp_path) not in card
    published = tmp_path / "published"
    published.mkdir()
    (published / ADAPTER_CONFIG).write_bytes(release.files[ADAPTER_CONFIG].content)
    assert PeftConfig.from_pretrained(published).base_model_name_or_path == models["bert"].name
    # the same run again: trained and evaluated from the cache; main moved (v1 is there now), so it decides again,
    # against its own adapter scored on this run's base, and finds it released: nothing new is committed
    again, stages = run(spec)
    assert stages["train"] == stages["evaluate"] == "Cached" and stages["challenge"] == "Completed"
    [row] = [row for row in again.result().evaluation.promotion.rows if row.name == "accuracy"]
    assert row.champion == row.challenger == summary.evaluation.metrics["accuracy"]
    assert "already holds this exact model as v1" in again.result().push.outcome
    _, stages = run(spec)  # and with main unchanged since, every stage is a cache hit
    assert stages == {**{stage: "Cached" for stage in STAGES}, "challenge": "Cached", "hub_head": "Completed"}
    # a worse adapter on the same base is compared with the published one and kept off the Hub
    worse, stages = run(spec, learning_rate=1e-9)
    assert worse.name == "Not promoted" and "push" not in stages
    [row] = [row for row in worse.result().evaluation.promotion.rows if row.name == "accuracy"]
    assert row.champion == summary.evaluation.metrics["accuracy"], "the champion adapter scored on our base"
    # an adapter of another base is refused as a label change is
    other = tmp_path / "other-bert"
    shutil.copytree(models["bert"], other)
    spec["model"]["name_or_path"] = str(other)
    moved, stages = run(spec)
    assert moved.name == "Not promoted" and "push" not in stages
    assert "an adapter of another base model" in moved.result().evaluation.promotion.reason
    assert len(repo.releases) == 1


def test_merge_releases_the_base_with_the_adapter_merged_into_it(prefect, run, models, tmp_path):
    from transformers import AutoModelForSequenceClassification

    spec = adapter_pipeline("text-classification", tmp_path / "data", models)
    spec["train"]["adapter"]["merge"] = True
    state, _ = run(spec)
    assert state.is_completed(), state.message
    pushed = state.result().push.folder
    assert (pushed / "model.safetensors").is_file() and not (pushed / ADAPTER_CONFIG).exists()
    merged = AutoModelForSequenceClassification.from_pretrained(pushed)
    assert merged.config.id2label == {0: "negative", 1: "positive"}
    metadata = yaml.safe_load((pushed / "README.md").read_text(encoding="utf-8").split("---")[1])
    assert metadata["library_name"] == "transformers"
