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


RAW = "__modelmill_raw_"  # the columns as read, while `encode` runs: none may share a name with what it makes


def encode_splits(dataset: Any, encode: Callable[..., dict[str, list]], **options: Any) -> Any:
    """`dataset` (a split or all of them) mapped batch by batch through `encode`, the columns as read dropped: what
    every task type's tokenization does with its own `encode` (`options` go to `map`, e.g. with_indices).

    A column as read that is named like an output (a label column called `labels`) would be updated in place by
    `map`, keeping its type (the ids become text): the columns are renamed while `encode` runs, which sees them
    under their own names."""
    columns = dataset.column_names
    raw_columns = next(iter(columns.values())) if isinstance(columns, dict) else columns
    renamed = dataset.rename_columns({name: RAW + name for name in raw_columns})

    def encode_raw(batch: dict[str, list], *args: Any) -> dict[str, list]:
        return encode({name.removeprefix(RAW): values for name, values in batch.items()}, *args)

    return renamed.map(encode_raw, batched=True, remove_columns=[RAW + name for name in raw_columns],
                       desc="Tokenizing", **options)
