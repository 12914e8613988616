"""Leakage-free splits of one file: every copy of a text (after folding case, whitespace and punctuation) lands
in the same split, so no test text was seen in training."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from modelmill.config import SplitRatios
from modelmill.data.facts import column_batches
from modelmill.runtime.errors import DataError

if TYPE_CHECKING:
    import datasets

_SPACES = re.compile(r"\s+")


class _PunctuationToSpace(dict):
    """A `str.translate` table that maps every Unicode punctuation character (category P*) to a space and keeps
    the others, filled as characters are met (a table of all 1.1 million code points costs a second to build)."""

    def __missing__(self, code: int) -> str:
        self[code] = " " if unicodedata.category(chr(code)).startswith("P") else chr(code)
        return self[code]


_PUNCTUATION_TO_SPACE = _PunctuationToSpace()


def normalize_text(text: str) -> str:
    """Case, whitespace and punctuation folded: 'Win a FREE phone!!' and 'win a free phone' are one text."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_PUNCTUATION_TO_SPACE)
    return _SPACES.sub(" ", folded).strip()


def text_hashes(part: datasets.Dataset, column: str, normalized: bool = True) -> np.ndarray:
    """One 64-bit hash per row of what its text is compared by (folded when `normalized`), computed a batch at a
    time: eight bytes a row, whatever the texts' length, instead of a set of strings. Equal hashes of different
    texts have a chance of about n² / 2⁶⁵ (one in 30 million for a million rows): it would count them as one."""
    hashes = np.empty(part.num_rows, dtype=np.int64)
    start = 0
    for batch in column_batches(part, column):
        keys = [normalize_text(str(text)) for text in batch] if normalized else [str(text) for text in batch]
        hashes[start:start + len(keys)] = [hash(key) for key in keys]
        start += len(keys)
    return hashes


@dataclass(frozen=True)
class GroupedSplit:
    parts: datasets.DatasetDict
    duplicate_groups: int
    duplicate_rows: int


def grouped_split(
    single: datasets.Dataset, ratios: SplitRatios, text_column: str, label_ids: list[int]
) -> GroupedSplit:
    """Cut `single` into train/validation/test by groups of identical normalized text, stratified by each group's
    first label when `ratios.stratify` (and every class has enough groups)."""
    from sklearn.model_selection import train_test_split

    hashes = text_hashes(single, text_column)
    _, first, group_of, sizes = np.unique(hashes, return_index=True, return_inverse=True, return_counts=True)
    by_appearance = np.argsort(first, kind="stable")  # groups in the order their first text appears, as before
    keys = list(range(len(first)))
    rank = np.empty_like(by_appearance)
    rank[by_appearance] = keys
    strata = [label_ids[first[group]] for group in by_appearance] if ratios.stratify else None
    holdout = ratios.validation + ratios.test
    try:
        train_keys, held_keys, _, held_strata = train_test_split(
            keys, strata or keys, test_size=holdout, random_state=ratios.seed, stratify=strata
        )
        validation_keys, test_keys = train_test_split(
            held_keys, test_size=ratios.test / holdout, random_state=ratios.seed,
            stratify=held_strata if strata else None,
        )
    except ValueError as exc:
        raise DataError(
            f"cannot split {len(keys)} distinct texts ({single.num_rows} rows) into train/validation/test "
            f"(data.split, stratify: {ratios.stratify}): {exc}"
        ) from None
    group_rank = rank[group_of]  # each row's group, numbered by first appearance

    def rows(chosen: list[int]) -> list[int]:
        return np.flatnonzero(np.isin(group_rank, chosen)).tolist()

    import datasets

    parts = datasets.DatasetDict(
        {name: single.select(rows(chosen)).flatten_indices() for name, chosen in
         (("train", train_keys), ("validation", validation_keys), ("test", test_keys))}
    )
    repeated = sizes[sizes > 1]
    return GroupedSplit(parts, len(repeated), int(repeated.sum()))
