"""Loading: CSV/JSON Lines/Parquet, label names to ids, ratio splits, and errors that name file and column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from modelmill.errors import DataError
from modelmill.spec import DataSpec
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
    with pytest.raises(DataError, match=r"cannot split 21 rows .*stratified by 'label': True"):
        read_data(DataSpec(file=path, split={"validation": 0.2, "test": 0.2}))
