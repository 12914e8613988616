"""Leakage-free splits of one file: every copy of a text (after folding case, whitespace and punctuation) lands
in the same split, so no test text was seen in training."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelmill.config import SplitRatios
from modelmill.runtime.errors import DataError

if TYPE_CHECKING:
    import datasets

_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Case, whitespace and punctuation folded: 'Win a FREE phone!!' and 'win a free phone' are one text."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(" " if unicodedata.category(char).startswith("P") else char for char in folded)
    return _SPACES.sub(" ", kept).strip()


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

    groups: dict[str, list[int]] = {}
    for row, text in enumerate(single[text_column]):
        groups.setdefault(normalize_text(str(text)), []).append(row)
    keys = list(groups)
    strata = [label_ids[groups[key][0]] for key in keys] if ratios.stratify else None
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

    def rows(chosen: list[str]) -> list[int]:
        return sorted(row for key in chosen for row in groups[key])

    import datasets

    parts = datasets.DatasetDict(
        {name: single.select(rows(chosen)) for name, chosen in
         (("train", train_keys), ("validation", validation_keys), ("test", test_keys))}
    )
    repeated = [members for members in groups.values() if len(members) > 1]
    return GroupedSplit(parts, len(repeated), sum(len(members) for members in repeated))
