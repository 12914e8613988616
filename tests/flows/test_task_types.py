"""Task types end to end with tiny config-built models: token classification (NER), extractive question answering,
summarization, fill-mask and instruction tuning through every stage, their metrics and gates, the model card's task,
a re-run that is all cache hits; and a classifier fine-tuned from a fill-mask-adapted model."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import datasets
import pytest
import yaml

from flows.finetune import finetune, run_stages
from modelmill.config import RunOverrides, resolve_run
from modelmill.storage.cache_probe import CacheProbe
from modelmill.storage.home import current_home
from tests.conftest import CHATML, chat_rows, ner_rows, pipeline_dict, qa_rows, review_rows, summary_rows, write_jsonl
from tests.flows.conftest import STAGES, stage_states


def test_token_classification_trains_scores_entities_gates_and_pushes_then_reruns_cached(
    prefect, run, tiny_model_dir, tmp_path
):
    files = {split: write_jsonl(tmp_path / "ner" / f"{split}.jsonl", ner_rows(seed, count))
             for seed, split, count in ((1, "train", 40), (2, "validation", 10), (3, "test", 10))}
    spec = pipeline_dict(tiny_model_dir, files)
    spec["task"] = "token-classification"
    spec["data"] = {"files": {split: str(path) for split, path in files.items()}}
    spec["validation"] = {"expectations": [{"expect_column_values_to_not_be_null": {"column": "tokens"}}]}
    spec["train"].update(epochs=3, learning_rate=2e-2)
    spec["evaluate"] = {"metrics": ["precision", "recall", "f1"], "thresholds": {"f1": {"min": 0.0}},
                        "class_thresholds": {"PER": {"recall": {"min": 0.0}}}}
    state, stages = run(spec)
    assert state.is_completed(), state.message
    assert stages == {stage: "Completed" for stage in STAGES}
    summary = state.result()
    evaluation = summary.evaluation
    assert set(evaluation.metrics) == {"precision", "recall", "f1", "macro_f1"}
    assert evaluation.labels == ["LOC", "PER"] and evaluation.support == {"LOC": 10, "PER": 10}
    assert {"f1[PER]", "recall[LOC]"} <= set(evaluation.per_class)
    assert [check.metric for check in evaluation.checks] == ["f1", "recall[PER]"]
    assert evaluation.metrics["f1"] > 0.5, "the tiny model learns where names and places stand"
    # the model tags words: its config names the IOB2 tags; the card says so
    config = json.loads((summary.model_path / "config.json").read_text())
    assert config["architectures"] == ["BertForTokenClassification"]
    assert config["id2label"] == {"0": "O", "1": "B-LOC", "2": "I-LOC", "3": "B-PER", "4": "I-PER"}
    card = (summary.push.folder / "README.md").read_text(encoding="utf-8")
    metadata = yaml.safe_load(card.split("---")[1])
    assert metadata["pipeline_tag"] == "token-classification"
    assert metadata["model-index"][0]["results"][0]["task"]["type"] == "token-classification"

    # a re-run: every stage is a cache hit
    _, again = run(spec)
    assert again == {stage: "Cached" for stage in STAGES}

    # an entity type outside its bounds stops the run before the push
    spec["evaluate"]["class_thresholds"] = {"PER": {"f1": {"max": evaluation.per_class["f1[PER]"] / 2}}}
    state, stages = run(spec)
    assert state.is_failed() and "f1[PER]" in state.message and "push" not in stages


def test_question_answering_trains_on_windows_answers_from_text_gates_and_reruns_cached(
    prefect, run, tiny_model_dir, tmp_path
):
    files = {split: write_jsonl(tmp_path / "qa" / f"{split}.jsonl", qa_rows(seed, count, unanswerable=0.2))
             for seed, split, count in ((1, "train", 48), (2, "validation", 12), (3, "test", 12))}
    spec = pipeline_dict(tiny_model_dir, files)
    spec["task"] = "question-answering"
    spec["data"] = {"files": {split: str(path) for split, path in files.items()}}
    spec["validation"] = {"expectations": [{"expect_column_values_to_not_be_null": {"column": "question"}}]}
    spec["tokenizer"] = {"max_length": 32, "stride": 8}  # contexts take more than one window
    spec["train"].update(epochs=4, learning_rate=2e-2)
    spec["evaluate"] = {"metrics": ["exact_match", "f1"], "thresholds": {"f1": {"min": 0.0}}}
    state, stages = run(spec)
    assert state.is_completed(), state.message
    assert stages == {stage: "Completed" for stage in STAGES}
    evaluation = state.result().evaluation
    assert set(evaluation.metrics) == {"exact_match", "f1"} and evaluation.num_examples == 12
    assert 0 <= evaluation.metrics["exact_match"] <= evaluation.metrics["f1"] <= 1
    card = (state.result().push.folder / "README.md").read_text(encoding="utf-8")
    assert yaml.safe_load(card.split("---")[1])["pipeline_tag"] == "question-answering"
    config = json.loads((state.result().model_path / "config.json").read_text())
    assert config["architectures"] == ["BertForQuestionAnswering"]
    _, again = run(spec)
    assert again == {stage: "Cached" for stage in STAGES}


def test_summarization_trains_a_config_built_seq2seq_model_generates_scores_rouge_and_reruns_cached(
    prefect, run, tiny_seq2seq_dir, tmp_path
):
    files = {split: write_jsonl(tmp_path / "sum" / f"{split}.jsonl", summary_rows(seed, count))
             for seed, split, count in ((1, "train", 48), (2, "validation", 8), (3, "test", 8))}
    spec = pipeline_dict(tiny_seq2seq_dir, files)
    spec["task"] = "summarization"
    spec["model"]["from_config"] = True  # new weights from the config: no pretrained seq2seq model ships
    spec["data"] = {"files": {split: str(path) for split, path in files.items()}}
    spec["validation"] = {"expectations": [{"expect_column_values_to_not_be_null": {"column": "summary"}}]}
    spec["tokenizer"] = {"max_length": 40, "max_target_length": 12}
    spec["train"].update(epochs=8, learning_rate=5e-3)
    spec["evaluate"] = {"metrics": ["rouge1", "rougeL"], "thresholds": {"rouge1": {"min": 0.0}},
                        "generation": {"max_new_tokens": 8, "num_beams": 2}}
    state, stages = run(spec)
    assert state.is_completed(), state.message
    assert stages == {stage: "Completed" for stage in STAGES}
    summary = state.result()
    assert set(summary.evaluation.metrics) == {"rouge1", "rougeL"} and summary.evaluation.num_examples == 8
    assert summary.evaluation.metrics["rouge1"] > 0.3, "the model learns to name the weather and the city"
    [untuned] = summary.evaluation.baselines  # the default gate: beat the model before fine-tuning, on rouge1
    [gate] = [check for check in summary.evaluation.checks if check.scope == "beats the untuned baseline"]
    assert gate.passed and gate.metric == "rouge1" and gate.above == untuned.scores.metrics["rouge1"] < 0.3
    card = (summary.push.folder / "README.md").read_text(encoding="utf-8")
    assert "| untuned: " in card and "before fine-tuning" in card
    assert yaml.safe_load(card.split("---")[1])["pipeline_tag"] == "summarization"
    config = json.loads((summary.model_path / "config.json").read_text())
    assert config["architectures"] == ["BartForConditionalGeneration"]
    _, again = run(spec)
    assert again == {stage: "Cached" for stage in STAGES}


def test_fill_mask_adapts_a_model_to_domain_text_measures_forgetting_and_a_classifier_starts_from_it(
    prefect, write_pipelines, tiny_model_dir, review_files, tmp_path
):
    from transformers import AutoTokenizer

    from modelmill.task_types.fill_mask import masked_lm_loss

    def texts(name: str, rows: Callable[[int, int], list[str]], seeds: tuple[int, int, int]) -> dict[str, str]:
        return {split: str(write_jsonl(tmp_path / name / f"{split}.jsonl", [{"text": t} for t in rows(seed, count)]))
                for seed, split, count in zip(seeds, ("train", "validation", "test"), (96, 16, 16), strict=True)}

    def fill_mask(files: dict[str, str], model: dict[str, Any], **evaluate: Any) -> dict[str, Any]:
        spec = pipeline_dict(tiny_model_dir, {})
        spec.update(task="fill-mask", data={"files": files}, model=model)
        spec["validation"] = {"expectations": [{"expect_column_values_to_not_be_null": {"column": "text"}}]}
        spec["train"].update(epochs=3, learning_rate=5e-3)
        spec["evaluate"] = {"thresholds": {"perplexity": {"max": 1000}}, **evaluate}  # metrics: perplexity, mlm_loss
        return spec

    people = texts("people", lambda seed, n: [" ".join(row["tokens"]) for row in ner_rows(seed, n)], (21, 22, 23))
    reviews = texts("reviews", lambda seed, n: [row["text"] for row in review_rows(seed, n)], (11, 12, 13))
    # general text first (sentences about people and places), then the domain (reviews), kept honest by a
    # retention set of general text; then a classifier starts from the domain-adapted model
    classify = pipeline_dict(tiny_model_dir, review_files)
    classify["model"] = {"from_pipeline": "tiny-mlm", "compare_unadapted": True}
    pipelines = {
        "tiny-general": fill_mask(people, {"name_or_path": str(tiny_model_dir)}),
        "tiny-mlm": fill_mask(reviews, {"from_pipeline": "tiny-general"},
                              retention={"file": people["test"], "max_increase": 100}),
        "tiny": classify,
    }
    path = write_pipelines(pipelines)

    def finetune_run(name: str) -> tuple[Any, dict[str, str]]:
        state = finetune(pipeline=name, pipelines_file=str(path), return_state=True)
        return state, stage_states(state)

    state, stages = finetune_run("tiny-mlm")  # runs tiny-general's stages first, and pushes tiny-mlm's model only
    assert state.is_completed(), state.message
    assert stages == {**{f"tiny-general/{stage}": "Completed" for stage in STAGES if stage != "push"},
                      **{stage: "Completed" for stage in STAGES}}
    adapted = state.result()
    assert set(adapted.evaluation.metrics) == {"perplexity", "mlm_loss"}
    vocabulary = len(AutoTokenizer.from_pretrained(tiny_model_dir))
    assert 1 < adapted.evaluation.metrics["perplexity"] < vocabulary / 2, "well below guessing among the vocabulary"
    [untuned] = adapted.evaluation.baselines  # the default gate: a lower perplexity than before the adaptation
    [gate] = [check for check in adapted.evaluation.checks if check.scope == "beats the untuned baseline"]
    assert gate.passed and gate.below == untuned.scores.metrics["perplexity"] > gate.value
    assert json.loads((adapted.model_path / "config.json").read_text())["architectures"] == ["BertForMaskedLM"]
    card = (adapted.push.folder / "README.md").read_text(encoding="utf-8")
    assert yaml.safe_load(card.split("---")[1])["pipeline_tag"] == "fill-mask"
    assert "domain-adapted model of pipeline `tiny-general`" in card and str(tmp_path) not in card
    # forgetting: the general text got harder for the model adapted to reviews; the card shows both losses
    before, after = adapted.evaluation.retention
    assert before.name.startswith("base model") and after.name == "adapted"
    assert after.metrics["mlm_loss"] > before.metrics["mlm_loss"], "adapting to reviews forgets some general text"
    (increase,) = [check for check in adapted.evaluation.checks if check.scope == "retention set"]
    assert increase.value == pytest.approx(after.metrics["mlm_loss"] - before.metrics["mlm_loss"])
    assert "Retention of general text" in card and "| retention set | mlm_loss increase |" in card
    # the test masks are drawn from a fixed seed: measured again, the same figure
    tested = [datasets.load_from_disk(str(folder))["test"]
              for folder in current_home().local.glob("artifacts/tokenized/*/*/dataset")]  # people's and reviews'
    assert any(masked_lm_loss(adapted.model_path, test, 64) == pytest.approx(adapted.evaluation.metrics["mlm_loss"])
               for test in tested)

    # a gate on forgetting: allowed less increase than measured, the adaptation fails and nothing is pushed
    pipelines["tiny-mlm"]["evaluate"]["retention"]["max_increase"] = increase.value / 2
    path = write_pipelines(pipelines)
    state, stages = finetune_run("tiny-mlm")
    assert state.is_failed() and "mlm_loss increase" in state.message and "push" not in stages
    state, stages = finetune_run("tiny")  # and a fine-tune that starts from it stops there, saying whose gate it was
    assert state.is_failed() and "train" not in stages
    assert state.message.startswith("ThresholdsNotMet: pipeline 'tiny-mlm': below 1 gate(s): mlm_loss increase")

    # the classifier runs the (cached) adaptation first, then the same fine-tune from the unadapted base beside it
    pipelines["tiny-mlm"]["evaluate"]["retention"]["max_increase"] = 100
    path = write_pipelines(pipelines)
    state, stages = finetune_run("tiny")
    assert state.is_completed(), state.message
    assert {stages[f"tiny-mlm/tiny-general/{stage}"] for stage in STAGES if stage != "push"} == {"Cached"}
    assert stages["tiny-mlm/train"] == "Cached" and stages["train"] == stages["unadapted/train"] == "Completed"
    summary = state.result()
    assert json.loads((summary.model_path / "config.json").read_text())["architectures"] == [
        "BertForSequenceClassification"]
    unadapted, from_adapted = summary.evaluation.adaptation
    assert unadapted.name == f"from {tiny_model_dir} (unadapted)" and from_adapted.name.endswith("(adapted)")
    assert from_adapted.metrics == summary.evaluation.metrics and set(unadapted.metrics) == set(from_adapted.metrics)
    card = (summary.push.folder / "README.md").read_text(encoding="utf-8")
    assert "Domain adaptation" in card and "domain-adapted model of pipeline `tiny-mlm`" in card
    # a re-run: every stage of the chain is a cache hit, and `modelmill run` finds them without starting a flow
    assert set(finetune_run("tiny")[1].values()) == {"Cached"}
    probed = run_stages(resolve_run("tiny", path, RunOverrides()), CacheProbe())
    assert probed.evaluation.adaptation == summary.evaluation.adaptation
    assert probed.stages["tiny-mlm/tiny-general/train"] == probed.stages["unadapted/train"] == "Cached"


def test_instruction_tuning_a_chat_model_beats_its_untuned_self_and_ships_the_template_it_trained_with(
    prefect, run, tiny_chat_dir, tmp_path
):
    from transformers import AutoTokenizer

    files = {split: write_jsonl(tmp_path / "chat" / f"{split}.jsonl", chat_rows(seed, count))
             for seed, split, count in ((1, "train", 96), (2, "validation", 12), (3, "test", 12))}
    template = tmp_path / "chat" / "chatml.jinja"
    template.write_text(CHATML + "{# ours #}", encoding="utf-8")  # renders alike, differs from the tokenizer's own
    spec = pipeline_dict(tiny_chat_dir, files)
    spec.update(task="text-generation", data={"files": {split: str(path) for split, path in files.items()}})
    spec["model"]["from_config"] = True  # new weights from the config: the tests' model is built, not pretrained
    spec["validation"] = {"expectations": []}
    spec["tokenizer"] = {"max_length": 48, "chat_template": str(template)}
    spec["train"].update(epochs=10, learning_rate=5e-3, batch_size=8)
    spec["evaluate"] = {"thresholds": {"exact_match": {"min": 0.5}}, "generation": {"max_new_tokens": 4}}
    state, stages = run(spec)
    assert state.is_completed(), state.message
    assert stages == {stage: "Completed" for stage in STAGES}
    summary = state.result()
    metrics = summary.evaluation.metrics
    assert set(metrics) == {"exact_match", "token_f1", "rougeL", "perplexity"} and metrics["exact_match"] >= 0.5
    # the default gate: beat the untuned model on the same prompts (it answers nothing right)
    [untuned] = summary.evaluation.baselines
    [gate] = [check for check in summary.evaluation.checks if check.scope == "beats the untuned baseline"]
    assert gate.passed and gate.metric == "exact_match" and untuned.scores.metrics["exact_match"] < 0.5
    # the published tokenizer renders prompts with exactly the template the model was trained with
    pushed = AutoTokenizer.from_pretrained(summary.push.folder)
    assert pushed.chat_template == template.read_text(encoding="utf-8")
    card = (summary.push.folder / "README.md").read_text(encoding="utf-8")
    assert yaml.safe_load(card.split("---")[1])["pipeline_tag"] == "text-generation"
    assert f"Chat template: sha256 `{summary.chat_template}`" in card and summary.chat_template
    config = json.loads((summary.model_path / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    _, again = run(spec)
    assert again == {stage: "Cached" for stage in STAGES}
    # another template is another model: tokenization onward runs again
    template.write_text(CHATML, encoding="utf-8")
    _, changed = run(spec)
    assert changed["tokenize"] == changed["train"] == "Completed" and changed["validate_data"] == "Cached"
