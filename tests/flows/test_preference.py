"""Preference tuning chained after instruction tuning, with the tiny chat model: DPO starts from the SFT pipeline's
model (which it runs first), moves it towards the chosen answers, is scored on the test pairs against that model and
on the SFT pipeline's own test set beside it, and re-runs cached; with an adapter, and with ORPO."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.finetune import finetune
from modelmill.training.adapters import ADAPTER_WEIGHTS
from tests.conftest import ASKINGS, CHATML, FRUITS, chat_rows, pipeline_dict, write_jsonl
from tests.flows.conftest import STAGES, stage_states


def preference_rows(seed: int, count: int) -> list[dict[str, str]]:
    """A fruit's colour asked, the right colour chosen over another fruit's."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        fruit = rng.choice(sorted(FRUITS))
        wrong = rng.choice(sorted(set(FRUITS.values()) - {FRUITS[fruit]}))
        rows.append({"prompt": rng.choice(ASKINGS).format(fruit), "chosen": FRUITS[fruit], "rejected": wrong})
    return rows


def pipelines(folder: Path, chat_dir: Path, **train: Any) -> dict[str, Any]:
    template = folder / "chatml.jinja"
    template.parent.mkdir(parents=True, exist_ok=True)
    template.write_text(CHATML, encoding="utf-8")
    sft = pipeline_dict(chat_dir, {})
    sft.update(task="text-generation", validation={"expectations": []},
               data={"files": {split: str(write_jsonl(folder / "sft" / f"{split}.jsonl", chat_rows(seed, count)))
                               for seed, split, count in ((1, "train", 48), (2, "validation", 8), (3, "test", 8))}})
    sft["model"]["from_config"] = True
    sft["tokenizer"] = {"max_length": 32, "chat_template": str(template)}
    sft["train"].update(epochs=4, learning_rate=5e-3)
    sft["evaluate"] = {"thresholds": {"exact_match": {"min": 0.0}}, "generation": {"max_new_tokens": 3},
                       "baselines": {"must_beat": []}}
    pairs = {split: str(write_jsonl(folder / "pairs" / f"{split}.jsonl", preference_rows(seed, count)))
             for seed, split, count in ((11, "train", 48), (12, "validation", 8), (13, "test", 8))}
    aligned = {
        "description": "DPO after SFT", "task": "preference", "data": {"files": pairs},
        "model": {"from_pipeline": "sft"},
        "tokenizer": {"max_length": 32, "chat_template": str(template)},
        "train": {"epochs": 3, "learning_rate": 5e-3, "batch_size": 8, "logging_steps": 1, "beta": 0.1, **train},
        "evaluate": {"thresholds": {"preference_accuracy": {"min": 0.0}}},
        "push": {"repo_id": "tests/tiny-aligned", "endpoint": "http://127.0.0.1:9"},
        "retries": {"max_retries": 0, "delay_seconds": 0},
    }
    return {"sft": sft, "aligned": aligned}


def run_aligned(write_pipelines, specs: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    path = write_pipelines(specs)
    state = finetune(pipeline="aligned", pipelines_file=str(path), return_state=True)
    return state, stage_states(state)


def test_dpo_after_sft_prefers_the_chosen_answers_and_reports_what_it_cost_on_the_sft_test_set(
    prefect, write_pipelines, tiny_chat_dir, tmp_path
):
    specs = pipelines(tmp_path, tiny_chat_dir)
    state, stages = run_aligned(write_pipelines, specs)
    assert state.is_completed(), state.message
    assert {stage: stages[f"sft/{stage}"] for stage in STAGES if stage != "push"} == {
        stage: "Completed" for stage in STAGES if stage != "push"}, "the SFT pipeline runs first, nothing pushed"
    assert stages["train"] == stages["evaluate"] == stages["push"] == "Completed"
    assert stages["sft-test/evaluate"] == "Completed"
    summary = state.result()
    metrics = summary.evaluation.metrics
    assert set(metrics) == {"reward_margin", "preference_accuracy"}
    assert metrics["reward_margin"] > 0 and metrics["preference_accuracy"] > 0.5, "moved towards the chosen answers"
    [gate] = [check for check in summary.evaluation.checks if check.scope == "beats the reference baseline"]
    assert gate.passed and gate.metric == "reward_margin" and gate.above == 0.0
    sft_scores, aligned_scores = summary.evaluation.alignment
    assert (sft_scores.name, aligned_scores.name) == ("sft (SFT)", "aligned (aligned)")
    assert set(aligned_scores.metrics) == {"exact_match", "token_f1", "rougeL", "perplexity"}
    assert sft_scores.num_examples == aligned_scores.num_examples == 8
    card = (summary.push.folder / "README.md").read_text(encoding="utf-8")
    assert yaml.safe_load(card.split("---")[1])["pipeline_tag"] == "text-generation"
    assert "Answers after alignment" in card and "sft (SFT)" in card
    assert "from the instruction-tuned model of pipeline `sft`" in card
    # a re-run: every stage of the chain is a cache hit
    _, again = run_aligned(write_pipelines, specs)
    assert set(again.values()) == {"Cached"}


@pytest.mark.parametrize("train", [{"adapter": {"r": 4, "alpha": 16, "dropout": 0.0}}, {"objective": "orpo"}],
                         ids=["dpo-adapter", "orpo"])
def test_preference_tuning_with_an_adapter_or_orpo(prefect, write_pipelines, tiny_chat_dir, tmp_path, train):
    specs = pipelines(tmp_path, tiny_chat_dir, **train)
    specs["aligned"]["evaluate"]["baselines"] = {"must_beat": []}  # the flow, not the quality, is tested here
    state, _ = run_aligned(write_pipelines, specs)
    assert state.is_completed(), state.message
    summary = state.result()
    assert set(summary.evaluation.metrics) == {"reward_margin", "preference_accuracy"}
    if "adapter" in train:  # the reference was the SFT model itself: the adapter switched off, no second copy
        assert (summary.model_path / ADAPTER_WEIGHTS).is_file()
