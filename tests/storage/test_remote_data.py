"""Data from object storage: URLs in data.files / data.file / evaluate.sets read with the home's storage
options, identified by the object's ETag (no download to compute a key), re-read when the object changes, checked
by `check` like local files (moto's S3 server on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from modelmill.config import DataSpec
from modelmill.runtime.errors import DataError
from modelmill.runtime.preflight import check_data
from modelmill.storage.artifacts import stable_hash
from modelmill.storage.home import current_home
from modelmill.storage.urls import DataURL
from tasks.load_data import load_data, read_data
from tests.object_store import BUCKET, S3Server


@pytest.fixture
def bucket_files(s3_server: S3Server, review_files: dict[str, Path], tmp_path: Path, monkeypatch) -> dict[str, str]:
    """The review CSVs uploaded under a prefix of the test bucket; the process reads them with test credentials."""
    for key, value in s3_server.env(str(tmp_path / "home"), tmp_path / "cache").items():
        monkeypatch.setenv(key, value)
    prefix = f"{BUCKET}/{tmp_path.name}"
    fs = s3_server.filesystem()
    for path in review_files.values():
        fs.put_file(str(path), f"{prefix}/{path.name}")
    return {split: f"s3://{prefix}/{path.name}" for split, path in review_files.items()}


def test_urls_are_read_like_local_files(bucket_files, review_files):
    spec = DataSpec(files=bucket_files)
    assert isinstance(spec.files.train, DataURL)
    dataset, labels, _, source = read_data(spec)
    local, *_ = read_data(DataSpec(files=review_files))
    assert dataset.num_rows == local.num_rows and labels == ["negative", "positive"]
    assert source == "train.csv, validation.csv, test.csv"


def test_a_url_is_identified_by_its_etag_without_a_download_and_a_changed_object_is_a_new_key(
    bucket_files, s3_server, review_files, tmp_path
):
    spec = DataSpec(files=bucket_files)
    key = stable_hash(spec)
    assert not (current_home().cache_root / "data").exists(), "no download to compute a key"
    assert stable_hash(DataSpec(files=bucket_files)) == key
    s3_server.filesystem().pipe_file(bucket_files["test"].removeprefix("s3://"),
                                     review_files["test"].read_bytes() + b"an extra review,positive\n")
    assert stable_hash(DataSpec(files=bucket_files)) != key


def test_load_reads_the_urls_and_a_changed_object_loads_again(bucket_files, s3_server, review_files, prefect):
    first = load_data(DataSpec(files=bucket_files))
    assert first.num_rows["test"] == 12
    s3_server.filesystem().pipe_file(bucket_files["test"].removeprefix("s3://"),
                                     review_files["test"].read_bytes() + b"an extra review,positive\n")
    second = load_data(DataSpec(files=bucket_files))
    assert second.num_rows["test"] == 13 and second.key != first.key


def test_check_names_a_missing_object_by_its_url(bucket_files, write_pipelines, tiny_model_dir):
    from modelmill.config import load_pipelines
    from tests.conftest import pipeline_dict

    missing = bucket_files["test"].replace("test.csv", "nowhere.csv")
    spec = pipeline_dict(tiny_model_dir, {**bucket_files, "test": missing})
    pipeline = load_pipelines(write_pipelines({"remote": spec})).pipelines["remote"]
    problems, _ = check_data("pipelines.yaml: remote", pipeline)
    assert f"{missing}: file not found" in problems


def test_a_folder_url_is_every_object_under_it_and_a_new_object_is_new_data(bucket_files, s3_server, review_files):
    from modelmill.data.identity import source_identities

    fs = s3_server.filesystem()
    folder = bucket_files["train"].rsplit("/", 1)[0] + "/incoming/"
    rows = review_files["train"].read_bytes().splitlines(keepends=True)
    fs.pipe_file(folder.removeprefix("s3://") + "day-1.csv", b"".join(rows[:30]))
    fs.pipe_file(folder.removeprefix("s3://") + "day-2.csv", rows[0] + b"".join(rows[30:]))
    fs.pipe_file(folder.removeprefix("s3://") + "_SUCCESS", b"")
    spec = DataSpec(files={**bucket_files, "train": folder})
    dataset, *_ = read_data(spec)
    local, *_ = read_data(DataSpec(files=review_files))
    assert dataset["train"]["text"] == local["train"]["text"]
    key, identity = stable_hash(spec), source_identities(spec)[folder]
    # when an object lands under the folder
    fs.pipe_file(folder.removeprefix("s3://") + "day-3.csv", rows[0] + b"one more review,positive\n")
    # then it is new data, read with the others
    assert stable_hash(spec) != key and source_identities(spec)[folder] != identity
    assert read_data(spec)[0]["train"].num_rows == dataset["train"].num_rows + 1
    # and the folder written without its slash is refused with the way to write it
    with pytest.raises(DataError, match=r"incoming: is a folder; write it with a trailing slash \(s3://.*/incoming/\)"):
        read_data(DataSpec(files={**bucket_files, "train": folder.rstrip("/")}, format="csv"))


@pytest.mark.parametrize("url, message", [
    ("http://127.0.0.1/train.csv", "a data file is a local path or a URL on s3, gs"),
    ("s3://bucket-only", "names a bucket: name a file in it, or a folder"),
    ("s3://bucket/data/..", r"'\.' and '\.\.' cannot end a data URL"),
    ("gs://bucket/.", r"'\.' and '\.\.' cannot end a data URL"),
    ("s3://bucket/data/../", r"'\.' and '\.\.' cannot end a data URL"),
])
def test_a_url_that_cannot_be_data_is_refused_at_load_with_its_yaml_path(url, message, review_files):
    with pytest.raises(ValidationError, match=message) as refused:
        DataSpec(files={**{k: str(v) for k, v in review_files.items()}, "train": url})
    assert refused.value.errors()[0]["loc"][:2] == ("files", "train")
