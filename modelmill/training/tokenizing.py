"""Text and labels to model inputs: token ids (truncated, unpadded) and a `labels` id column."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelmill.manifests import DataManifest

if TYPE_CHECKING:
    import datasets
    from transformers import PreTrainedTokenizerBase


def tokenize_splits(
    dataset: datasets.Dataset | datasets.DatasetDict,
    tokenizer: PreTrainedTokenizerBase,
    data: DataManifest,
    max_length: int,
) -> datasets.Dataset | datasets.DatasetDict:
    """Token ids truncated to `max_length` plus a `labels` id column; padding is left to the collator."""

    def encode(batch: dict[str, list]) -> dict[str, list]:
        encoded = tokenizer(batch[data.text_column], truncation=True, max_length=max_length)
        encoded["labels"] = [data.label_ids[str(value)] for value in batch[data.label_column]]
        return encoded

    columns = dataset.column_names
    raw_columns = next(iter(columns.values())) if isinstance(columns, dict) else columns
    return dataset.map(encode, batched=True, remove_columns=raw_columns, desc="Tokenizing")
