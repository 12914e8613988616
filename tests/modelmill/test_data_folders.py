"""A data folder (`files.train: data/incoming/`) is read as all its data files in name order, names a bad row by
its file and its row there, and is identified by its files' names and contents: a new file is new data (a new
cache key, a changed source for a data trigger); a touched file, a marker or a hidden file is not."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from modelmill.config import DataSpec
from modelmill.data.folders import at_row
from modelmill.data.identity import source_identities
from modelmill.runtime.errors import DataError
from modelmill.storage.artifacts import stable_hash
from modelmill.storage.urls import DataFolder
from tasks.load_data import load_data, read_data
from tests.conftest import review_rows, write_csv


@pytest.fixture
def incoming(tmp_path: Path, review_files: dict[str, Path]) -> Path:
    """The train reviews as a folder: two files, the second in a dated subfolder, and what tools leave beside."""
    folder = tmp_path / "incoming"
    rows = review_rows(1, 48)
    write_csv(folder / "part-1.csv", rows[:30])
    write_csv(folder / "2026-12" / "part-2.csv", rows[30:])
    (folder / "_SUCCESS").write_text("")
    (folder / "README.md").write_text("reviews, one file a day")
    (folder / ".part-3.csv").write_text("text,label\n")  # half-written by an uploader
    return folder


def spec_with(incoming: Path, review_files: dict[str, Path], written: str | None = None) -> DataSpec:
    files = {split: str(path) for split, path in review_files.items()}
    return DataSpec.model_validate({"files": {**files, "train": written or f"{incoming}/"}})


def test_a_folder_is_read_as_its_data_files_in_name_order(incoming, review_files):
    spec = spec_with(incoming, review_files)
    dataset, labels, _, source = read_data(spec)
    rows = review_rows(1, 48)
    # the dated subfolder sorts before part-1.csv: name order, whatever the order they were written in
    assert dataset["train"]["text"] == [row["text"] for row in rows[30:] + rows[:30]]
    assert labels == ["negative", "positive"] and source == "incoming, validation.csv, test.csv"
    assert at_row("train", dataset["train"], 18) == f"{incoming}/2026-12/part-2.csv: row 18"
    assert at_row("train", dataset["train"], 19) == f"{incoming}/part-1.csv: row 1"
    assert at_row("validation.csv", dataset["validation"], 3) == "validation.csv: row 3"


def test_a_path_to_a_folder_is_a_folder_with_or_without_its_slash_and_after_a_round_trip(incoming, review_files):
    for written in (f"{incoming}/", str(incoming)):
        assert isinstance(spec_with(incoming, review_files, written).files.train, DataFolder)
    spec = spec_with(incoming, review_files)
    sent = json.loads(spec.model_dump_json())  # as a parameter travels to a worker
    assert isinstance(DataSpec.model_validate(sent).files.train, DataFolder)
    missing = spec_with(incoming, review_files, f"{incoming.parent}/later/")
    with pytest.raises(DataError, match=r"later/: data folder for split 'train' not found"):
        read_data(missing)


def test_a_new_file_is_new_data_and_a_touched_file_or_a_marker_is_not(incoming, review_files):
    spec = spec_with(incoming, review_files)
    key, sources = stable_hash(spec), source_identities(spec)
    assert list(sources) == [f"{incoming}/", *map(str, list(review_files.values())[1:])]
    # when a file is written again with the same bytes, and markers and hidden files come and go
    part = incoming / "part-1.csv"
    part.write_bytes(part.read_bytes())
    os.utime(part, (1, 1))
    (incoming / "_SUCCESS").unlink()
    (incoming / ".part-4.csv").write_text("text,label\nhalf")
    (incoming / "notes.txt").write_text("not data")
    # then the data is the same
    assert stable_hash(spec) == key and source_identities(spec) == sources
    # when a file lands, then when one is renamed
    write_csv(incoming / "part-3.csv", review_rows(7, 6))
    added = stable_hash(spec)
    assert added != key and source_identities(spec)[f"{incoming}/"] != sources[f"{incoming}/"]
    (incoming / "part-3.csv").rename(incoming / "part-4.csv")
    assert stable_hash(spec) not in (key, added), "a file's name is part of the data: it decides the order"


def test_load_reads_the_folder_and_a_new_file_loads_again(incoming, review_files, prefect):
    spec = spec_with(incoming, review_files)
    first = load_data(spec)
    assert load_data(spec).key == first.key, "the same folder: the cached split"
    write_csv(incoming / "part-3.csv", review_rows(7, 6))
    second = load_data(spec)
    assert (first.num_rows["train"], second.num_rows["train"]) == (48, 54) and second.key != first.key


def test_files_of_a_folder_whose_types_differ_are_named_or_made_alike(incoming, review_files):
    # a label column empty in one file (read as nulls) takes the other files' type
    write_csv(incoming / "part-3.csv", [{"text": "a review", "label": ""}])
    with pytest.raises(DataError, match=r"is null or empty in 1 row\(s\) \(part-3.csv row 1;"):
        read_data(spec_with(incoming, review_files))
    # labels written as numbers in one file and as names in the others cannot be one column
    (incoming / "part-3.csv").write_text("text,label\nfine,1\n")
    (incoming / "part-1.csv").write_text("text,label\nfine,2\n")
    (incoming / "2026-12" / "part-2.csv").write_text("text,label\nnot fine,3\n")
    (incoming / "part-4.csv").write_text("text,label\ngood,yes\n")
    with pytest.raises(DataError, match=r"part-4.csv: column\(s\) \['label'\] hold other types than in .*2026-12/"
                                        r"part-2.csv \(label: \w*string vs int64"):
        read_data(spec_with(incoming, review_files))
