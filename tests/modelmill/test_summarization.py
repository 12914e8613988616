"""Summarization's pieces: ROUGE against hand-computed values, one sentence per line for ROUGE-Lsum, texts and
summaries checked with their row and column, and what the task refuses at load."""

from __future__ import annotations

import re

import pytest

from modelmill.config import DataSpec, load_pipelines
from modelmill.runtime.errors import ConfigError, DataError
from modelmill.task_types.summarization import TASK, mean_rouge, sentences_on_lines
from tests.conftest import pipeline_dict, summary_rows, write_jsonl


def test_rouge_is_the_mean_f_measure_of_each_pair():
    predictions = ["rain in paris", "sun in oslo today"]
    references = ["rain in paris", "snow in oslo"]
    scores = mean_rouge(predictions, references, ["rouge1", "rouge2", "rougeL"])
    # pair 1: identical (1, 1, 1). pair 2: unigrams in common {in, oslo}: P 2/4, R 2/3, F 4/7; bigrams in common
    # {in oslo}: P 1/3, R 1/2, F 2/5; longest common subsequence "in oslo": as unigrams, 4/7
    assert scores["rouge1"] == pytest.approx((1 + 4 / 7) / 2)
    assert scores["rouge2"] == pytest.approx((1 + 2 / 5) / 2)
    assert scores["rougeL"] == pytest.approx((1 + 4 / 7) / 2)


def test_sentences_go_on_lines_for_summary_level_rouge():
    assert sentences_on_lines("rain in paris. sun in oslo!  wind?") == "rain in paris.\nsun in oslo!\nwind?"
    lines = mean_rouge([sentences_on_lines("b a. c d.")], [sentences_on_lines("a b. c d.")], ["rougeLsum"])
    assert lines["rougeLsum"] == pytest.approx(mean_rouge(["b a c d"], ["a b c d"], ["rougeL"])["rougeL"])


def test_an_empty_summary_is_refused_with_its_row_and_column(tmp_path):
    rows = summary_rows(1, 3)
    files = {split: write_jsonl(tmp_path / f"{split}.jsonl", rows) for split in ("train", "validation")}
    files["test"] = write_jsonl(tmp_path / "test.jsonl", [rows[0], {"text": "some text", "summary": " "}])
    with pytest.raises(DataError, match=re.escape(f"{files['test']}: row 2: column 'summary' is empty or not text")):
        TASK.read(DataSpec(files=files, text_column="text", label_column="summary"))


def test_summarization_reads_text_and_summary_and_refuses_what_it_cannot_do(write_pipelines, tiny_seq2seq_dir,
                                                                           tmp_path):
    files = {split: write_jsonl(tmp_path / f"{split}.jsonl", summary_rows(0, 4))
             for split in ("train", "validation", "test")}

    def spec(**changes):
        pipeline = pipeline_dict(tiny_seq2seq_dir, files)
        pipeline.update(task="summarization", data={"files": {k: str(v) for k, v in files.items()}},
                        evaluate={"metrics": ["rouge1", "rougeL"], "thresholds": {"rougeL": {"min": 0.1}}})
        del pipeline["validation"]
        for section, values in changes.items():
            pipeline[section] = {**pipeline.get(section, {}), **values}
        return load_pipelines(write_pipelines({"sum": pipeline})).pipelines["sum"]

    pipeline = spec(evaluate={"generation": {"max_new_tokens": 12, "num_beams": 2}})
    assert (pipeline.data.text_column, pipeline.data.label_column) == ("text", "summary")
    assert pipeline.evaluate.generation.num_beams == 2
    # by default the fine-tune must beat the untuned model it started from; leaving it out is a knowing choice
    assert pipeline.evaluate.baselines.must_beat == ["untuned"]
    assert spec(evaluate={"baselines": {"must_beat": []}}).evaluate.baselines.must_beat == []
    for changes, message in [
        ({"train": {"metric_for_best_model": "accuracy"}},
         "train.metric_for_best_model: summarization training reports the validation loss only"),
        ({"evaluate": {"metrics": ["rougeL", "accuracy"]}}, "evaluate.metrics: ['accuracy'] are not summarization"),
        ({"evaluate": {"class_thresholds": {"x": {"f1": {"min": 0.5}}}}},
         "evaluate.class_thresholds is not available for task summarization; remove it"),
        ({"evaluate": {"baselines": {"must_beat": ["classical"]}}},
         "evaluate.baselines.must_beat: 'classical' is not a baseline of summarization (its baselines: untuned)"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            spec(**changes)
    # generation settings belong to summarization only
    with pytest.raises(ConfigError, match="evaluate.generation is not available for task text-classification"):
        text = pipeline_dict(tiny_seq2seq_dir, files)
        text["evaluate"]["generation"] = {"num_beams": 2}
        load_pipelines(write_pipelines({"text": text}))
    with pytest.raises(ConfigError, match=re.escape("'untuned' is not a baseline of text-classification (its "
                                                    "baselines: majority, classical)")):
        text = pipeline_dict(tiny_seq2seq_dir, files)
        text["evaluate"]["baselines"] = {"must_beat": ["majority", "untuned"]}
        load_pipelines(write_pipelines({"text": text}))


def test_a_pretrained_encoder_warm_starts_both_halves_of_a_sequence_to_sequence_model(tiny_model_dir):
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    from modelmill.config import ModelSpec
    from modelmill.training.loading import warm_started_encoder_decoder

    built = warm_started_encoder_decoder(ModelSpec(name_or_path=str(tiny_model_dir), encoder_decoder=True))
    pretrained = load_file(tiny_model_dir / "model.safetensors")
    encoder, decoder = built.encoder.state_dict(), built.decoder.state_dict()
    name = "encoder.layer.0.attention.self.query.weight"
    assert encoder[name].equal(pretrained[name]), "the encoder starts from the pretrained weights"
    assert decoder[f"bert.{name}"].equal(pretrained[name]), "so does the decoder"
    assert any("crossattention" in key for key in decoder), "the decoder attends to the encoder (new weights)"
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert (built.generation_config.decoder_start_token_id, built.generation_config.eos_token_id) == (
        tokenizer.cls_token_id, tokenizer.sep_token_id)
    with pytest.raises(ValueError, match="give from_config or encoder_decoder, not both"):
        ModelSpec(name_or_path=str(tiny_model_dir), encoder_decoder=True, from_config=True)


def test_loading_rouge_leaves_absl_s_handler_on_the_process_stderr(monkeypatch):
    # rouge_score imports absl's logging, whose handler keeps the stderr of that moment and closes it when logging
    # is configured again (Prefect does, per flow run): under pytest's capture or in a notebook, a swapped stream
    import io
    import sys

    import absl.logging

    from modelmill.metrics import load_metric

    handler = absl.logging.get_absl_handler().python_handler
    swapped = io.StringIO()
    monkeypatch.setattr(handler, "stream", swapped)
    load_metric.__wrapped__("rouge")
    assert handler.stream is sys.__stderr__
    handler.close()  # what logging's reconfiguration does to every handler
    assert not swapped.closed and not sys.__stderr__.closed
    # without the release, the swapped stream is closed
    handler.stream = swapped
    handler.close()
    assert swapped.closed
    handler.stream = sys.__stderr__
