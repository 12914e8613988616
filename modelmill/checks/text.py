"""Plain, tested functions for what GX has no expectation for: text overlap across splits, duplicates after
folding, and class balance."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from modelmill.data.splits import normalize_text


def _key(text: object, normalized: bool) -> str:
    return normalize_text(str(text)) if normalized else str(text)


def overlap_rows(train: Sequence[object], other: Sequence[object], normalized: bool) -> list[int]:
    """0-based rows of `other` whose text is also in `train` (after folding when `normalized`)."""
    seen = {_key(text, normalized) for text in train}
    return [row for row, text in enumerate(other) if _key(text, normalized) in seen]


def duplicate_rows(texts: Sequence[object], normalized: bool) -> list[int]:
    """0-based rows that repeat a text seen earlier in the same split."""
    seen: set[str] = set()
    rows = []
    for row, text in enumerate(texts):
        key = _key(text, normalized)
        if key in seen:
            rows.append(row)
        seen.add(key)
    return rows


def thin_classes(labels: Sequence[object], names: Sequence[str], min_share: float, min_examples: int) -> dict[str, int]:
    """Classes with fewer than `min_examples` rows or less than `min_share` of the split: name -> count."""
    counts = Counter(str(label) for label in labels)
    total = max(len(labels), 1)
    return {
        name: counts.get(name, 0)
        for name in names
        if counts.get(name, 0) < min_examples or counts.get(name, 0) / total < min_share
    }
