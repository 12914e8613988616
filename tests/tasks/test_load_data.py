"""Loading: CSV/JSON Lines/Parquet, label names to ids, ratio splits, and errors that name file and column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from modelmill.runtime.errors import DataError
from modelmill.config import DataSpec
from tasks.load_data import read_data
from tests.conftest import review_rows, write_csv


def files_spec(files: dict[str, Path], **extra) -> DataSpec:
    return DataSpec(files={split: path for split, path in files.items()}, **extra)


def test_csv_splits_keep_their_columns_and_map_label_names_to_ids(review_files):
    dataset, labels, mapping, _ = read_data(files_spec(review_files, labels=["negative", "positive"]))
    assert dataset.num_rows == {"train": 48, "validation": 12, "test": 12}
    assert labels == ["negative", "positive"]
    assert mapping == {"negative": 0, "positive": 1}
    assert dataset["train"].column_names == ["text", "label"]


def test_label_names_default_to_the_sorted_distinct_train_labels(review_files):
    _, labels, mapping, _ = read_data(files_spec(review_files))
    assert labels == ["negative", "positive"] and mapping["positive"] == 1


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_json_lines_and_parquet_read_like_csv(tmp_path: Path, suffix: str):
    files = {}
    for seed, split in enumerate(("train", "validation", "test")):
        frame = pd.DataFrame(review_rows(seed, 10))
        files[split] = tmp_path / f"{split}.{suffix}"
        if suffix == "jsonl":
            frame.to_json(files[split], orient="records", lines=True)
        else:
            frame.to_parquet(files[split])
    dataset, labels, _, _ = read_data(files_spec(files))
    assert dataset.num_rows == {"train": 10, "validation": 10, "test": 10}
    assert labels == ["negative", "positive"]


def test_integer_labels_are_ids_and_data_labels_names_them(tmp_path: Path):
    rows = [{"text": r["text"], "label": int(r["label"] == "positive")} for r in review_rows(0, 20)]
    files = {split: write_csv(tmp_path / f"{split}.csv", rows) for split in ("train", "validation", "test")}
    _, labels, mapping, _ = read_data(files_spec(files, labels=["neg", "pos"]))
    assert labels == ["neg", "pos"] and mapping == {"0": 0, "1": 1}


def test_one_file_is_split_by_ratios_reproducibly_and_stratified(tmp_path: Path):
    path = write_csv(tmp_path / "all.csv", review_rows(0, 100))
    spec = DataSpec(file=path, split={"validation": 0.2, "test": 0.2, "seed": 3})
    first, _, _, _ = read_data(spec)
    second, _, _, _ = read_data(spec)
    assert first.num_rows == {"train": 60, "validation": 20, "test": 20}
    assert first["test"]["text"] == second["test"]["text"], "the same seed must give the same split"
    assert first["test"]["label"].count("positive") == 10, "stratified: half of each split is positive"
    assert first["train"].column_names == ["text", "label"]
    assert not set(first["train"]["text"]) & set(first["test"]["text"])


def test_a_label_outside_the_declared_set_names_split_column_and_value(review_files):
    rows = review_rows(3, 12)
    rows[0]["label"] = "neutral"
    write_csv(review_files["test"], rows)
    with pytest.raises(DataError, match=r"split 'test', column 'label' has labels \['neutral'\]"):
        read_data(files_spec(review_files, labels=["negative", "positive"]))


def test_a_missing_column_names_the_column_and_lists_the_real_ones(review_files):
    with pytest.raises(DataError, match=r"no column 'sentence' \(data.text_column\); columns are \['text', 'label'\]"):
        read_data(files_spec(review_files, text_column="sentence"))


def test_a_missing_file_is_named(review_files, tmp_path: Path):
    review_files["validation"] = tmp_path / "gone.csv"
    with pytest.raises(DataError, match="gone.csv: data file for split 'validation' not found"):
        read_data(files_spec(review_files))


def test_a_split_that_cannot_be_stratified_says_why(tmp_path: Path):
    rows = review_rows(0, 20) + [{"text": "only one of these", "label": "rare"}]
    path = write_csv(tmp_path / "all.csv", rows)
    with pytest.raises(DataError, match=r"cannot split 21 distinct texts \(21 rows\) .*stratify: True"):
        read_data(DataSpec(file=path, split={"validation": 0.2, "test": 0.2}))
    with pytest.raises(DataError, match=r"cannot split 21 rows .*stratified by 'label': True"):
        read_data(DataSpec(file=path, split={"validation": 0.2, "test": 0.2, "group_duplicates": False}))


def test_copies_of_a_text_stay_in_one_split_so_nothing_leaks_into_test(tmp_path: Path):
    from modelmill.data.splits import normalize_text

    # given a file where many texts repeat, with changes of case, spacing and punctuation
    rows = review_rows(0, 100)
    copies = [{"text": f"  {row['text'].upper()}!! ", "label": row["label"]} for row in rows[:40]]
    path = write_csv(tmp_path / "all.csv", rows + copies)
    spec = DataSpec(file=path, split={"validation": 0.2, "test": 0.2, "seed": 3})
    dataset, _, _, _ = read_data(spec)
    # then every row is kept, and no normalized text is in two splits
    assert sum(dataset.num_rows.values()) == 140
    texts = {split: {normalize_text(t) for t in dataset[split]["text"]} for split in dataset}
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["validation"]
    assert not texts["validation"] & texts["test"]
    # while a plain random split of the same file leaks copies across splits
    plain, _, _, _ = read_data(DataSpec(file=path, split={"validation": 0.2, "test": 0.2, "seed": 3,
                                                          "group_duplicates": False}))
    leaked = {normalize_text(t) for t in plain["train"]["text"]} & {normalize_text(t) for t in plain["test"]["text"]}
    assert leaked, "the test data must be able to show leakage"


def test_normalized_text_folds_case_whitespace_and_punctuation():
    from modelmill.data.splits import normalize_text

    assert normalize_text("  Win a FREE\tphone!!!") == normalize_text("win a free phone") == "win a free phone"
    assert normalize_text("don't") == normalize_text("don t")


def broken_files(review_files: dict[str, Path], split: str, content: bytes) -> dict[str, Path]:
    review_files[split].write_bytes(content)
    return review_files


@pytest.mark.parametrize(
    ("split", "content", "message"),
    [
        ("train", "text,label\ncaf\u00e9 ok,positive\n".encode("latin-1"),
         r"train\.csv: not UTF-8 \(expected UTF-8\): byte 0xe9 at offset 14, line 2"),
        ("validation", b"", r"validation\.csv: the file is empty"),
        ("test", b"text,label\n", r"test\.csv: the file has a header but no data rows"),
        ("test", b"text\nfine\n", r"test\.csv: no column 'label' \(data\.label_column\)"),
        ("train", b"text,label\na,positive\nb,negative,extra\n",
         r"train\.csv: cannot read as csv \(data\.format\): .*Expected 2 fields in line 3, saw 3"),
        ("validation", b"text,label\n,positive\nok,negative\n",
         r"validation\.csv: column 'text' \(data\.text_column\) is null or empty in 1 row\(s\) \(1;"),
        ("validation", b"text,label\nfine,positive\nok,\n",
         r"validation\.csv: column 'label' \(data\.label_column\) is null or empty in 1 row\(s\) \(2;"),
        ("test", b"text,label\na,positive\nb,positive\n", r"test\.csv: split 'test' holds a single class \['positive'\]"),
    ],
    ids=["latin-1", "empty", "header-only", "missing-column", "ragged-csv", "null-text", "null-label", "one-class"],
)
def test_bad_files_fail_naming_the_file_and_the_cause(review_files, split, content, message):
    with pytest.raises(DataError, match=message):
        read_data(files_spec(broken_files(review_files, split, content), labels=["negative", "positive"]))


def test_a_wrong_format_names_the_file_and_the_parser_error(review_files):
    with pytest.raises(DataError, match=r"train\.csv: cannot read as json \(data\.format\)"):
        read_data(files_spec(review_files, format="json"))


def test_null_labels_are_dropped_and_counted_only_when_the_yaml_says_so(review_files):
    rows = review_rows(1, 48)
    rows[3]["label"] = ""
    write_csv(review_files["train"], rows)
    with pytest.raises(DataError, match="set data.drop_null_labels: true"):
        read_data(files_spec(review_files))
    dataset, labels, _, _ = read_data(files_spec(review_files, drop_null_labels=True))
    assert dataset.num_rows["train"] == 47 and labels == ["negative", "positive"], "no class named 'None'"


def test_a_class_absent_from_train_is_an_error(review_files):
    with pytest.raises(DataError, match=r"classes \['neutral'\] of data.labels never occur in the train split"):
        read_data(files_spec(review_files, labels=["negative", "positive", "neutral"]))
