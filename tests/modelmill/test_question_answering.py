"""Extractive question answering's pieces: long contexts cut into overlapping windows whose answer tokens map back
to the answer's text, the answer picked from the logits (or none, for SQuAD 2.0), exact match and F1 against
hand-computed values, and answers that are not where the data says refused with their row."""

from __future__ import annotations

import numpy as np
import pytest

from modelmill.config import DataSpec
from modelmill.metrics import load_metric
from modelmill.runtime.errors import DataError
from modelmill.task_types.question_answering import OUTSIDE, TASK, best_answer, windows
from tests.conftest import qa_rows, write_jsonl


def test_a_long_context_becomes_overlapping_windows_whose_answer_tokens_hold_the_answer(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = qa_rows(5, 6)
    encoded = windows(tokenizer, [row["question"] for row in rows], [row["context"] for row in rows],
                      [row["answers"] for row in rows], list(range(10, 16)), max_length=24, stride=6)
    assert len(encoded["input_ids"]) > len(rows), "contexts longer than a window are cut into several"
    assert set(encoded["example_index"]) == set(range(10, 16))
    found = set()
    for window, example in enumerate(encoded["example_index"]):
        row, spans = rows[example - 10], encoded["offset_mapping"][window]
        start, end = encoded["start_positions"][window], encoded["end_positions"][window]
        assert len(encoded["input_ids"][window]) <= 24
        if start == 0:  # the answer is not wholly in this window: it points at [CLS]
            assert end == 0
            continue
        assert row["context"][spans[start][0]:spans[end][1]] == row["answers"]["text"][0]
        found.add(example)
    assert found == set(range(10, 16)), "every answer is wholly inside some window"
    # question tokens and specials carry no offsets into the context
    assert encoded["offset_mapping"][0][0] == OUTSIDE


def test_the_answer_is_the_best_valid_span_and_none_when_no_answer_wins():
    context = "anna was born in new york ."
    spans = [OUTSIDE, OUTSIDE, [0, 4], [5, 8], [9, 13], [14, 16], [17, 20], [21, 25], [26, 27], OUTSIDE]
    starts = np.array([0.0, 5, 0, 0, 0, 0, 6, 1, 0, 0])  # index 1 is a question token: never an answer
    ends = np.array([0.0, 5, 0, 0, 0, 0, 1, 6, 0, 0])
    assert best_answer([starts], [ends], [spans], context, allow_empty=False) == "new york"
    # the highest start (6: "new") and the highest end (5: "in") make no span, an end before its start: the best
    # valid span wins ("new" alone: 6 + 1, against at most -9 + 9 for spans ending at "in")
    low = np.array([0.0, 5, -9, -9, -9, -9, 6, 1, -9, 0]), np.array([0.0, 0, -9, -9, -9, 9, 1, -9, -9, 0])
    assert best_answer([low[0]], [low[1]], [spans], context, allow_empty=False) == "new"
    # SQuAD 2.0: when [CLS]'s no-answer score beats every span, the answer is empty
    high_null = starts.copy(), ends.copy()
    high_null[0][0] = high_null[1][0] = 10
    assert best_answer([high_null[0]], [high_null[1]], [spans], context, allow_empty=True) == ""
    assert best_answer([high_null[0]], [high_null[1]], [spans], context, allow_empty=False) == "new york"


def test_exact_match_and_f1_follow_the_squad_definitions():
    squad = load_metric("squad")
    predictions = [{"id": "1", "prediction_text": "The New York"}, {"id": "2", "prediction_text": "paris france"},
                   {"id": "3", "prediction_text": ""}, {"id": "4", "prediction_text": "tea"}]
    references = [
        {"id": "1", "answers": {"text": ["new york!"], "answer_start": [0]}},  # articles and punctuation fold away
        {"id": "2", "answers": {"text": ["paris", "in paris"], "answer_start": [0, 0]}},  # the best gold answer
        {"id": "3", "answers": {"text": [], "answer_start": []}},  # no answer, and none given: right
        {"id": "4", "answers": {"text": [], "answer_start": []}},  # no answer, one given: wrong
    ]
    scores = squad.compute(predictions=predictions, references=references)
    # exact: 1, 0, 1, 0; F1: 1, 2*(1/2*1)/(1/2+1) = 2/3 ("paris" against "paris france"), 1, 0
    assert scores["exact_match"] == pytest.approx(100 * 2 / 4)
    assert scores["f1"] == pytest.approx(100 * (1 + 2 / 3 + 1 + 0) / 4)


def test_an_answer_that_is_not_where_the_data_says_is_refused_with_its_row(tmp_path):
    rows = qa_rows(1, 4)
    files = {split: write_jsonl(tmp_path / f"{split}.jsonl", rows) for split in ("train", "validation")}
    moved = [dict(row) for row in rows]
    moved[1]["answers"] = {"text": moved[1]["answers"]["text"], "answer_start": [0]}
    files["test"] = write_jsonl(tmp_path / "test.jsonl", moved)
    spec = DataSpec(files=files, text_column="context", label_column="answers")
    with pytest.raises(DataError) as error:
        TASK.read(spec)
    answer = rows[1]["answers"]["text"][0]
    assert str(error.value) == f"{files['test']}: row 2: column 'answers': answer {answer!r} is not at character 0 " \
                               "of the context"
    files["test"] = write_jsonl(tmp_path / "test.jsonl", rows)
    dataset, labels, _, _ = TASK.read(spec)
    assert labels == [] and dataset["test"].num_rows == 4


@pytest.mark.parametrize(("answers", "reason"), [
    (lambda gold: {"text": gold["text"], "answer_starts": gold["answer_start"]},
     "answers has no ['answer_start'] but has ['answer_starts'] (a typo?)"),
    (lambda gold: {"text": gold["text"], "answer_start": [-len(gold["text"][0])]},
     "answer_start -"),
])
def test_a_misspelled_answers_key_or_a_negative_start_is_refused_with_its_row_by_check_too(
    tmp_path, tiny_model_dir, answers, reason
):
    from modelmill.config import PipelineSpec
    from modelmill.runtime.preflight import problems_of

    # given a test file whose second row's answers are broken, beside a pipeline with good data
    rows = qa_rows(1, 4)
    files = {split: write_jsonl(tmp_path / f"{split}.jsonl", rows) for split in ("train", "validation")}
    broken = [dict(row) for row in rows]
    broken[1]["answers"] = answers(rows[1]["answers"])
    files["test"] = write_jsonl(tmp_path / "test.jsonl", broken)
    good = {**files, "test": files["validation"]}
    specs = {name: PipelineSpec.model_validate({
        "task": "question-answering", "model": {"name_or_path": str(tiny_model_dir)}, "push": {"repo_id": "t/qa"},
        "tokenizer": {"max_length": 64},
        "data": {"files": {k: str(v) for k, v in data.items()}, "text_column": "context", "label_column": "answers"},
        "validation": {"checks": {"overlap": {"enabled": False}}}})
        for name, data in (("broken", files), ("good", good))}
    # when it is read, and when both are checked
    with pytest.raises(DataError) as error:
        TASK.read(specs["broken"].data)
    found = problems_of(tmp_path / "pipelines.yaml", specs)
    # then both name the file, the row and the column, and the other pipeline is still checked
    assert str(error.value).startswith(f"{files['test']}: row 2: column 'answers': {reason}"), str(error.value)
    assert str(error.value) in found["broken"] and found["good"] == []
