"""Tokenize: truncation to max_length, no padding (the collator pads per batch), label ids."""

from __future__ import annotations

from modelmill.training.loading import load_tokenizer
from modelmill.config import ModelSpec
from modelmill.training.tokenizing import tokenize_splits


def test_tokens_are_truncated_unpadded_and_labelled(review_data, tiny_model_dir):
    dataset, data = review_data
    tokenizer = load_tokenizer(str(tiny_model_dir), ModelSpec(name_or_path=str(tiny_model_dir)))
    tokenized = tokenize_splits(dataset, tokenizer, data, max_length=6)
    train = tokenized["train"]
    assert set(train.column_names) == {"input_ids", "attention_mask", "labels"}
    lengths = {len(ids) for ids in train["input_ids"]}
    assert max(lengths) == 6, "truncated to max_length"
    untruncated = tokenize_splits(dataset, tokenizer, data, max_length=64)["train"]
    assert len({len(ids) for ids in untruncated["input_ids"]}) > 1, "no padding: lengths vary"
    assert train["labels"] == [data.label_ids[label] for label in dataset["train"]["label"]]


def test_every_stage_after_loading_is_keyed_by_the_source_of_its_task_type(review_data, monkeypatch):
    import inspect

    from modelmill.storage import caching
    from modelmill.task_types import text_classification

    _, data = review_data
    policy = caching.TaskTypeSource()
    key = policy.compute_key(None, {"data": data, "title": "model"}, {})
    assert key != policy.compute_key(None, {"data": data.model_copy(update={"task": "fill-mask"})}, {})
    assert policy.compute_key(None, {"title": "model"}, {}) is None, "nothing read yet: the stage's own inputs"
    # an edit to the task type's module (not to the stage's) is a new key: its tokens, model and scores change
    read = caching.module_source_hash
    edited = text_classification.__file__
    monkeypatch.setattr(caching, "module_source_hash",
                        lambda fn: read(fn) + "edited" if inspect.getsourcefile(fn) == edited else read(fn))
    assert policy.compute_key(None, {"data": data, "title": "model"}, {}) != key


def test_a_label_column_named_labels_becomes_label_ids(review_files, tiny_model_dir, tmp_path):
    # given CSV files whose label column is called `labels`, the name the model's input takes
    from modelmill.config import DataSpec
    from tests.conftest import review_rows, write_csv
    from tasks.load_data import read_data

    files = {split: write_csv(tmp_path / f"{split}.csv", [{"text": row["text"], "labels": row["label"]}
                                                           for row in review_rows(seed, 8)])
             for seed, split in enumerate(("train", "validation", "test"), 1)}
    dataset, labels, mapping, _ = read_data(DataSpec(files=files, label_column="labels"))
    from modelmill.manifests import DataManifest

    data = DataManifest(key="k", path=tmp_path, fingerprint="f", labels=labels, label_ids=mapping,
                        text_column="text", label_column="labels", num_rows={}, source="s")
    tokenizer = load_tokenizer(str(tiny_model_dir), ModelSpec(name_or_path=str(tiny_model_dir)))
    # when it is tokenized, the ids replace the names (not the names kept as text, which no tensor can hold)
    train = tokenize_splits(dataset, tokenizer, data, max_length=16)["train"]
    assert train["labels"] == [mapping[label] for label in dataset["train"]["labels"]]
    assert all(isinstance(label, int) for label in train["labels"])
