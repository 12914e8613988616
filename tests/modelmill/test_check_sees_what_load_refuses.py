"""`modelmill check` refuses every data file the load stage would refuse, with the very sentence the load stage
raises: each bad file goes through both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelmill.runtime.errors import DataError
from modelmill.runtime.preflight import check_data
from modelmill.config import PipelineSpec
from tasks.load_data import read_data
from tests.conftest import review_rows, write_csv


def jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def relabel(rows: list[dict[str, Any]], **labels: Any) -> list[dict[str, Any]]:
    """`rows` with the label of row N replaced, as in relabel(rows, r0="neutral")."""
    rows = [dict(row) for row in rows]
    for key, label in labels.items():
        rows[int(key[1:])]["label"] = label
    return rows


def csv_splits(tmp_path: Path, train=None, validation=None, test=None) -> dict[str, Path]:
    rows = {"train": train or review_rows(1, 24), "validation": validation or review_rows(2, 8),
            "test": test or review_rows(3, 8)}
    return {split: write_csv(tmp_path / f"{split}.csv", part) for split, part in rows.items()}


def folder(path: Path, *parts: list[dict[str, Any]]) -> Path:
    """A data folder holding `parts` as part-1.csv, part-2.csv...; a marker file and a hidden file beside them."""
    for number, rows in enumerate(parts, 1):
        write_csv(path / f"part-{number}.csv", rows)
    (path / "_SUCCESS").write_text("")
    (path / ".part-3.csv").write_text("text,label\n")  # half-written: a reader would refuse it
    return path


def blank(rows: list[dict[str, Any]], index: int) -> list[dict[str, Any]]:
    """`rows` with the text of row `index` (0-based) emptied."""
    return [{**row, "text": "" if number == index else row["text"]} for number, row in enumerate(rows)]


def raw(tmp_path: Path, split: str, content: bytes, **others: Any) -> dict[str, Path]:
    files = csv_splits(tmp_path, **others)
    files[split].write_bytes(content)
    return files


def json_splits(tmp_path: Path, train: list[dict[str, Any]]) -> dict[str, Path]:
    return {"train": jsonl(tmp_path / "train.jsonl", train),
            "validation": jsonl(tmp_path / "validation.jsonl", review_rows(2, 8)),
            "test": jsonl(tmp_path / "test.jsonl", review_rows(3, 8))}


LABELS = ["negative", "positive"]
CASES = {
    "a label outside the label set": (
        lambda tmp: csv_splits(tmp, test=relabel(review_rows(3, 8), r0="neutral")), LABELS,
        "has labels ['neutral'] outside the label set"),
    "labels differing only in case or spaces": (
        lambda tmp: csv_splits(tmp, train=relabel(review_rows(1, 24), r0="Positive", r2="positive ")), None,
        "has labels that differ only in case or spaces: ['Positive', 'positive', 'positive ']"),
    "labels of mixed types": (
        lambda tmp: json_splits(tmp, relabel(review_rows(1, 24), r0=1)), None,
        "column 'label' (data.label_column) holds values of mixed types (numbers and text, say)"),
    "a single class": (
        lambda tmp: csv_splits(tmp, *[relabel(review_rows(s, n), **{f"r{i}": "positive" for i in range(n)})
                                      for s, n in ((1, 24), (2, 8), (3, 8))]), None,
        "has a single label ['positive']; need two or more"),
    "a list where text belongs": (
        lambda tmp: json_splits(tmp, [{"text": [row["text"]], "label": row["label"]} for row in review_rows(1, 24)]),
        None, "column 'text' (data.text_column) holds lists, not text"),
    "an empty text": (
        lambda tmp: raw(tmp, "validation", b"text,label\n,positive\nok,negative\n"), LABELS,
        "column 'text' (data.text_column) is null or empty in 1 row(s) (1;"),
    "an empty label": (
        lambda tmp: raw(tmp, "validation", b"text,label\nfine,positive\nok,\n"), LABELS,
        "column 'label' (data.label_column) is null or empty in 1 row(s) (2;"),
    "a missing column": (
        lambda tmp: raw(tmp, "test", b"review,label\nfine,positive\nbad,negative\n"), LABELS,
        "no column 'text' (data.text_column); columns are ['review', 'label']"),
    "a split with one class": (
        lambda tmp: raw(tmp, "test", b"text,label\na,positive\nb,positive\n"), LABELS,
        "split 'test' holds a single class ['positive']"),
    "integer labels that are not ids": (
        lambda tmp: csv_splits(tmp, *[relabel(review_rows(s, n), **{f"r{i}": 1 + i % 2 for i in range(n)})
                                      for s, n in ((1, 24), (2, 8), (3, 8))]), None,
        "integer labels [1, 2] in column 'label' are not 0..n-1"),
    "a class never in train": (
        lambda tmp: csv_splits(tmp), [*LABELS, "neutral"], "classes ['neutral'] of data.labels never occur"),
    "UTF-16": (
        lambda tmp: raw(tmp, "train", "text,label\nfine,positive\n".encode("utf-16")), LABELS,
        "not UTF-8 (expected UTF-8): it is UTF-16"),
    "a NUL byte": (
        lambda tmp: raw(tmp, "train", b"text,label\nfi\x00ne,positive\n"), LABELS, "a NUL byte at offset 13, line 2"),
    "a header only": (lambda tmp: raw(tmp, "test", b"text,label\n"), LABELS, "the file has a header but no data rows"),
    "the header again mid-file": (
        lambda tmp: raw(tmp, "train", b"text,label\nfine,positive\ntext,label\nbad,negative\n"), LABELS,
        "train.csv: 1 row(s) (2; 1-based, header excluded) repeat the header (text, label)"),
    "a line of spaces between rows": (
        lambda tmp: raw(tmp, "train", b"text,label\nfine,positive\n   \nbad,negative\n"), LABELS,
        "train.csv: 1 blank line(s) between rows (line 3)"),
    "a file separated by semicolons": (
        lambda tmp: raw(tmp, "test", b"text;label\nfine;positive\nbad;negative\n"), LABELS,
        "test.csv: the header reads as one column 'text;label': is the file separated by ';'?"),
    "names in train, integers in test": (
        lambda tmp: {**json_splits(tmp, review_rows(1, 24)),
                     "test": jsonl(tmp / "test.jsonl", [{**row, "label": i % 2} for i, row in enumerate(review_rows(3, 8))])},
        None, "test.jsonl: split 'test', column 'label' writes its labels as integers ['0', '1'] where the train split "
              "writes names ['negative', 'positive']"),
    "a truncated JSON Lines row": (
        lambda tmp: {**json_splits(tmp, review_rows(1, 24)),
                     "validation": (tmp / "validation.jsonl").write_text('{"text": "fine", "label": "positive"}\n'
                                                                         '{"text": "cut sho\n') and tmp / "validation.jsonl"},
        LABELS, "validation.jsonl: cannot read as json (data.format): line 2 is not valid JSON"),
    "a label written another way in test only": (
        lambda tmp: csv_splits(tmp, test=relabel(review_rows(3, 8), r0="Positive")), None,
        "test.csv: column 'label' has labels that differ only in case or spaces: ['Positive', 'positive']"),
    "a blank text in the second file of a train folder": (
        lambda tmp: {**csv_splits(tmp), "train": folder(tmp / "incoming", review_rows(1, 12),
                                                         blank(review_rows(4, 12), 2))},
        None, "incoming/: column 'text' (data.text_column) is null or empty in 1 row(s) (part-2.csv row 3; 1-based"),
    "a file of a folder with other columns": (
        lambda tmp: {**csv_splits(tmp), "validation": folder(tmp / "held", review_rows(2, 8),
                                                              [{"review": row["text"], "label": row["label"]}
                                                               for row in review_rows(5, 8)])},
        None, "held/part-2.csv: columns ['review', 'label'] differ from"),
    "a folder without data files": (
        lambda tmp: {**csv_splits(tmp), "test": (tmp / "empty").mkdir() or tmp / "empty"},
        None, "empty/: the folder holds no data files"),
    "a folder mixing formats": (
        lambda tmp: {**csv_splits(tmp), "test": folder(tmp / "mixed", review_rows(3, 8))
                     and jsonl(tmp / "mixed" / "part-2.jsonl", review_rows(6, 4)) and tmp / "mixed"},
        None, "mixed/: the folder mixes formats (csv: part-1.csv, json: part-2.jsonl)"),
    "one class in train, two elsewhere": (
        lambda tmp: csv_splits(tmp, relabel(review_rows(1, 24), **{f"r{i}": "positive" for i in range(24)})), None,
        "train.csv: column 'label' has a single label ['positive']; need two or more classes in the train split"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_check_refuses_what_load_refuses_with_the_same_sentence(tmp_path, tiny_model_dir, case):
    build, labels, reason = CASES[case]
    files = build(tmp_path)
    data = {"files": {split: str(path) for split, path in files.items()}, **({"labels": labels} if labels else {})}
    spec = PipelineSpec.model_validate({"data": data, "model": {"name_or_path": str(tiny_model_dir)},
                                        "push": {"repo_id": "tests/refusals"}})
    with pytest.raises(DataError) as refused:
        read_data(spec.data)
    loaded = str(refused.value)
    assert reason in loaded, loaded
    problems, _ = check_data("pipelines.tiny", spec)
    assert loaded in problems, f"check said {problems}, load said {loaded!r}"
    assert problems[0] == loaded, f"the cause comes first: {problems}"
