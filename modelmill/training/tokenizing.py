"""Text and labels to model inputs: token ids (truncated, unpadded) and a `labels` id column."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

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

    return encode_splits(dataset, encode)


def encode_splits(dataset: Any, encode: Callable[..., dict[str, list]], **options: Any) -> Any:
    """`dataset` (a split or all of them) mapped batch by batch through `encode`, the columns as read dropped: what
    every task type's tokenization does with its own `encode` (`options` go to `map`, e.g. with_indices)."""
    columns = dataset.column_names
    raw_columns = next(iter(columns.values())) if isinstance(columns, dict) else columns
    return dataset.map(encode, batched=True, remove_columns=raw_columns, desc="Tokenizing", **options)
