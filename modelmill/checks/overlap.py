"""Texts that a held-out split shares with an earlier one (validation with train, test with train and validation):
found the same way by `modelmill check`, the validate stage and the load stage that drops them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from modelmill.checks.text import rows_in
from modelmill.config import SPLITS, OverlapCheck

if TYPE_CHECKING:
    import datasets

    from modelmill.data.folders import RowOrigins

PAIRS = (("validation", "train"), ("test", "train"), ("test", "validation"))  # held-out split, the split before it
Hashes = Callable[[str, bool], np.ndarray]  # (split, normalized) -> one hash per row


@dataclass(frozen=True)
class Overlap:
    """Rows of `split` (0-based) whose text is in `against`, compared exactly or folded (`normalized`)."""

    split: str
    against: str
    normalized: bool
    rows: list[int]
    size: int

    @property
    def how(self) -> str:
        return "normalized" if self.normalized else "exact"

    def rule(self, check: OverlapCheck) -> str:
        return f"at most {check.max_share:.0%} of {self.split} repeats a {self.against} text ({self.how})"

    def severity(self, check: OverlapCheck) -> str:
        """The check's severity above its share of the split, a warning at or below it."""
        return check.severity if len(self.rows) > check.max_share * self.size else "warning"

    def stops(self, check: OverlapCheck) -> bool:
        return check.action == "stop" and self.severity(check) == "critical"

    def describe(self, check: OverlapCheck, source: str, origins: RowOrigins | None = None) -> str:
        """What `modelmill check` says of an overlap that would stop the run, and the remedy (the rows of a folder's
        split as each file numbers them: `origins`)."""
        first = [row + 1 for row in self.rows[:5]]
        shown = (origins.describe(first) if origins else ", ".join(map(str, first))) + (
            ", …" if len(self.rows) > 5 else "")
        return (
            f"{source}: {len(self.rows)} of {self.size} rows of {self.split} ({len(self.rows) / self.size:.1%}) repeat "
            f"a {self.against} text ({self.how}; rows {shown}, 1-based, header "
            f"excluded), above validation.checks.overlap.max_share {check.max_share:g}: {self.harm()}. {REMEDY}"
        )

    def harm(self) -> str:
        if self.against == "train":
            return f"the {self.split} figures would count texts the model trained on"
        return "the test figures would count texts the best checkpoint was picked on"


REMEDY = ("Remove them, or set validation.checks.overlap.action: drop to drop them from validation and test when the "
          "data is loaded (counted in the report and the model card)")


def pair_rows(normalized: bool, hashes: Hashes, checked: Iterable[str], present: Iterable[str] = SPLITS
              ) -> list[tuple[str, str, list[int]]]:
    """(held-out split, earlier split, rows of the held-out one whose text the earlier one has) for every pair of
    splits in `present` whose held-out split is `checked`, compared exactly or folded."""
    checked, present = set(checked), set(present)
    return [(split, against, rows_in(hashes(against, normalized), hashes(split, normalized)))
            for split, against in PAIRS if split in checked and {split, against} <= present]


def find_overlaps(check: OverlapCheck, hashes: Hashes, checked: Iterable[str], present: Iterable[str] = SPLITS
                  ) -> list[Overlap]:
    """Every overlap of a `checked` held-out split with an earlier split (the earlier one need not be checked
    itself: train is the split every held-out one is compared with), exact then folded when the check folds."""
    checked = list(checked)
    return [Overlap(split, against, normalized, rows, len(hashes(split, normalized)))
            for normalized in ([False, True] if check.normalized else [False])
            for split, against, rows in pair_rows(normalized, hashes, checked, present)]


def dropped_note(dropped: dict[str, int]) -> str:
    """'dropped 3 of validation, 5 of test (rows that repeat a text of an earlier split; ...)'."""
    counts = ", ".join(f"{count} of {split}" for split, count in dropped.items())
    return f"dropped {counts} (rows that repeat a text of an earlier split; validation.checks.overlap.action: drop)"


def rows_to_drop(normalized: bool, hashes: Hashes) -> dict[str, list[int]]:
    """Per held-out split, the rows (0-based, sorted) that repeat an earlier split's text: what `action: drop`
    removes (compared folded when `normalized`, which includes the exact repeats)."""
    dropped: dict[str, set[int]] = {}
    for split, _, rows in pair_rows(normalized, hashes, SPLITS):
        dropped.setdefault(split, set()).update(rows)
    return {split: sorted(rows) for split, rows in dropped.items() if rows}


def dataset_hashes(parts: Mapping[str, datasets.Dataset], column: str) -> Hashes:
    """`Hashes` of the splits `parts` (a DatasetDict, or splits read one by one), each split hashed once per mode."""
    from modelmill.data.splits import text_hashes

    cache: dict[tuple[str, bool], np.ndarray] = {}

    def hashes(split: str, normalized: bool) -> np.ndarray:
        if (split, normalized) not in cache:
            cache[split, normalized] = text_hashes(parts[split], column, normalized)
        return cache[split, normalized]

    return hashes
