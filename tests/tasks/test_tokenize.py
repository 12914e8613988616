"""Tokenize: truncation to max_length, no padding (the collator pads per batch), label ids."""

from __future__ import annotations

from modelmill.manifests import DataManifest
from modelmill.spec import DataSpec, ModelSpec
from modelmill.loading import load_tokenizer
from tasks.load_data import read_data
from tasks.tokenize import tokenize_splits


def test_tokens_are_truncated_unpadded_and_labelled(review_files, tiny_model_dir):
    dataset, labels, mapping, source = read_data(DataSpec(files=review_files))
    data = DataManifest(
        key="k", path=tiny_model_dir, fingerprint="f", labels=labels, label_ids=mapping,
        text_column="text", label_column="label", num_rows=dataset.num_rows, source=source,
    )
    tokenizer = load_tokenizer(str(tiny_model_dir), ModelSpec(name_or_path=str(tiny_model_dir)))
    tokenized = tokenize_splits(dataset, tokenizer, data, max_length=6)
    train = tokenized["train"]
    assert set(train.column_names) == {"input_ids", "attention_mask", "labels"}
    lengths = {len(ids) for ids in train["input_ids"]}
    assert max(lengths) == 6, "truncated to max_length"
    untruncated = tokenize_splits(dataset, tokenizer, data, max_length=64)["train"]
    assert len({len(ids) for ids in untruncated["input_ids"]}) > 1, "no padding: lengths vary"
    assert train["labels"] == [mapping[label] for label in dataset["train"]["label"]]
