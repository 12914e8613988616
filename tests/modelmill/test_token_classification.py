"""Token classification's pieces: tags aligned to sub-tokens, entity-level scores against hand-computed values,
data refused with its file, row and column, IOB2 breaks reported, and the settings it refuses at load."""

from __future__ import annotations

import re

import numpy as np
import pytest

from modelmill.config import DataSpec, load_pipelines
from modelmill.runtime.errors import ConfigError, DataError
from modelmill.task_types.token_classification import (
    IGNORED,
    TASK,
    align_labels,
    entity_scores,
    in_our_ids,
    iob2_breaks,
    labelled,
    metric_values,
    order_tags,
)
from tests.conftest import ner_rows, pipeline_dict, write_jsonl

LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def test_a_word_s_tag_goes_on_its_first_sub_token_or_on_every_one_as_declared():
    # [CLS] li-##wei was in new-##york [SEP]: words 0 and 3 are split in two sub-tokens
    word_ids = [None, 0, 0, 1, 2, 3, 3, None]
    tags = [3, 0, 0, 1]  # B-PER O O B-LOC
    assert align_labels(word_ids, tags, LABELS, every_subtoken=False) == [
        IGNORED, 3, IGNORED, 0, 0, 1, IGNORED, IGNORED]
    # every sub-token: a B- tag continues as I- within its word
    assert align_labels(word_ids, tags, LABELS, every_subtoken=True) == [IGNORED, 3, 4, 0, 0, 1, 2, IGNORED]
    # declared tags without I-LOC: the word's own B-LOC on each of its sub-tokens
    without = ["O", "B-LOC", "B-PER", "I-PER"]
    assert align_labels(word_ids, [2, 0, 0, 1], without, every_subtoken=True) == [IGNORED, 2, 3, 0, 0, 1, 1, IGNORED]


def test_entity_scores_count_whole_entities_as_seqeval_defines_them():
    true = [["B-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "O"]]
    predicted = [["B-PER", "I-PER", "O", "O"], ["B-LOC", "B-PER"]]
    scores = entity_scores(predicted, true)
    # entities: true PER(0:2), LOC(3), LOC(0); predicted PER(0:2), LOC(0), PER(1): 2 of 3 predicted are right,
    # 2 of 3 true are found
    assert scores["overall_precision"] == pytest.approx(2 / 3)
    assert scores["overall_recall"] == pytest.approx(2 / 3)
    assert scores["overall_f1"] == pytest.approx(2 / 3)
    assert scores["overall_accuracy"] == pytest.approx(4 / 6)  # tags right, of 6
    assert scores["PER"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "number": 1}
    assert scores["LOC"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "number": 2}
    # an entity with a wrong end is not found
    assert entity_scores([["B-PER", "O"]], [["B-PER", "I-PER"]])["overall_f1"] == 0.0
    # the metrics a pipeline names, and the macro F1 over entity types
    values = metric_values(scores, ["f1", "precision"])
    assert values == {"f1": pytest.approx(2 / 3), "precision": pytest.approx(2 / 3),
                      "macro_f1": pytest.approx(2 / 3)}


def test_only_labelled_positions_are_scored():
    predictions = np.array([[0, 3, 1, 0], [1, 1, 0, 0]])
    label_ids = np.array([[IGNORED, 3, IGNORED, 0], [1, IGNORED, IGNORED, IGNORED]])
    assert labelled(predictions, label_ids, LABELS) == ([["B-PER", "O"], ["B-LOC"]], [["B-PER", "O"], ["B-LOC"]])


def test_a_published_tagger_s_tag_ids_are_read_by_name():
    ours, theirs = ["O", "B-PER", "I-PER"], ["B-PER", "I-PER", "O"]  # the champion ordered its tags otherwise
    predicted = np.array([[0, 1, 2, IGNORED]])
    assert in_our_ids(predicted, theirs, ours).tolist() == [[1, 2, 0, IGNORED]]
    assert in_our_ids(predicted, ours, ours) is predicted


def test_tags_come_from_the_data_outside_first_then_each_type(tmp_path):
    assert order_tags({"I-PER", "B-LOC", "O", "B-PER"}) == LABELS
    files = {split: write_jsonl(tmp_path / f"{split}.jsonl", ner_rows(seed, 6))
             for seed, split in enumerate(("train", "validation", "test"))}
    dataset, labels, mapping, source = TASK.read(DataSpec(files=files, text_column="tokens", label_column="tags"))
    assert labels == LABELS and mapping["B-PER"] == 3 and dataset["test"].num_rows == 6
    assert source == "train.jsonl, validation.jsonl, test.jsonl"


@pytest.mark.parametrize(("row", "message"), [
    ({"tokens": ["anna", "was"], "tags": ["B-PER"]}, "row 2: 'tokens' has 2 words and 'tags' 1 tags: one tag per word"),
    ({"tokens": ["anna"], "tags": ["PER"]}, "row 2: column 'tags': 'PER' is not an IOB2 tag"),
    ({"tokens": "anna was here", "tags": ["O"]}, "row 2: column 'tokens' must be a list of strings"),
    ({"tokens": [], "tags": []}, "row 2: 'tokens' is empty"),
])
def test_a_bad_row_is_refused_with_its_file_row_and_column(tmp_path, row, message):
    good = ner_rows(0, 3)
    files = {split: write_jsonl(tmp_path / f"{split}.jsonl", good) for split in ("validation", "test")}
    files["train"] = write_jsonl(tmp_path / "train.jsonl", [good[0], row, good[1]])
    with pytest.raises(DataError) as error:
        TASK.read(DataSpec(files=files, text_column="tokens", label_column="tags"))
    assert str(error.value).startswith(str(files["train"])) and message in str(error.value), str(error.value)


def test_declared_tags_must_cover_the_data(tmp_path):
    files = {split: write_jsonl(tmp_path / f"{split}.jsonl", ner_rows(1, 4))
             for split in ("train", "validation", "test")}
    with pytest.raises(DataError, match=r"train.jsonl: tags \['B-LOC'\] are not in data.labels"):
        TASK.read(DataSpec(files=files, text_column="tokens", label_column="tags", labels=["O", "B-PER", "I-PER"]))


def test_an_i_tag_that_starts_an_entity_is_an_iob2_break():
    assert iob2_breaks(["B-PER", "I-PER", "O", "B-LOC", "I-LOC"]) == 0
    assert iob2_breaks(["O", "I-PER", "B-LOC", "I-PER"]) == 2


def token_pipeline(tiny_model_dir, tmp_path, **evaluate):
    spec = pipeline_dict(tiny_model_dir, {split: write_jsonl(tmp_path / f"{split}.jsonl", ner_rows(0, 4))
                                          for split in ("train", "validation", "test")})
    spec["task"] = "token-classification"
    del spec["data"]["labels"], spec["validation"]
    spec["evaluate"] = {"metrics": ["f1", "precision"], "thresholds": {"f1": {"min": 0.0}}, **evaluate}
    return spec


def test_token_classification_reads_tokens_and_tags_and_refuses_what_it_cannot_do(write_pipelines,
                                                                                  tiny_model_dir, tmp_path):
    spec = token_pipeline(tiny_model_dir, tmp_path, class_thresholds={"PER": {"f1": {"min": 0.5}}})
    pipeline = load_pipelines(write_pipelines({"ner": spec})).pipelines["ner"]
    assert (pipeline.data.text_column, pipeline.data.label_column) == ("tokens", "tags")
    for evaluate, message in [
        ({"slices": [{"length_buckets": [10]}]},
         "evaluate.slices is not available for task token-classification; remove it"),
        ({"baselines": {"must_beat": ["majority"]}}, "evaluate.baselines is not available"),
        ({"metrics": ["f1", "roc_auc"], "trust_remote_code": True}, "evaluate.metrics: ['roc_auc'] are not"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_pipelines(write_pipelines({"ner": token_pipeline(tiny_model_dir, tmp_path, **evaluate)}))
    # a class threshold names an entity type of the declared tags
    wrong = token_pipeline(tiny_model_dir, tmp_path, class_thresholds={"B-PER": {"f1": {"min": 0.5}}})
    wrong["data"]["labels"] = LABELS
    with pytest.raises(ConfigError, match=r"'B-PER' is not one of the labels \['LOC', 'PER'\]"):
        load_pipelines(write_pipelines({"ner": wrong}))
