"""Plain, tested functions for what GX has no expectation for: text overlap across splits, duplicates after
folding, and class balance."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from modelmill.data.splits import normalize_text


def text_keys(texts: Sequence[object], normalized: bool) -> list[str]:
    """What texts are compared by: as written, or folded (case, whitespace and punctuation)."""
    return [normalize_text(str(text)) for text in texts] if normalized else [str(text) for text in texts]


def overlap_rows(train: Sequence[object], other: Sequence[object], normalized: bool) -> list[int]:
    """0-based rows of `other` whose text is also in `train` (after folding when `normalized`)."""
    return rows_in(hashes_of(text_keys(train, normalized)), hashes_of(text_keys(other, normalized)))


def hashes_of(keys: Sequence[str]) -> np.ndarray:
    return np.array([hash(key) for key in keys], dtype=np.int64)


def rows_in(seen: np.ndarray, hashes: np.ndarray) -> list[int]:
    """0-based rows of `hashes` that are in `seen`."""
    return np.flatnonzero(np.isin(hashes, seen)).tolist()


def duplicate_rows(texts: Sequence[object], normalized: bool) -> list[int]:
    """0-based rows that repeat a text seen earlier in the same split."""
    return repeated_rows(hashes_of(text_keys(texts, normalized)))


def repeated_rows(hashes: np.ndarray) -> list[int]:
    """0-based rows whose hash repeats one seen earlier."""
    repeated = np.ones(len(hashes), dtype=bool)
    repeated[np.unique(hashes, return_index=True)[1]] = False
    return np.flatnonzero(repeated).tolist()


def conflicting_rows(hashes: np.ndarray, labels: Sequence[object]) -> list[int]:
    """0-based rows whose text occurs in the split with another label too: every row of such a text."""
    seen: dict[int, set[str]] = {}
    for key, label in zip(hashes.tolist(), labels, strict=True):
        seen.setdefault(key, set()).add(str(label))
    torn = {key for key, found in seen.items() if len(found) > 1}
    return [row for row, key in enumerate(hashes.tolist()) if key in torn]


def thin_classes(labels: Sequence[object], names: Sequence[str], min_share: float, min_examples: int) -> dict[str, int]:
    """Classes with fewer than `min_examples` rows or less than `min_share` of the split: name -> count."""
    counts = Counter(str(label) for label in labels)
    total = max(len(labels), 1)
    return {
        name: counts.get(name, 0)
        for name in names
        if counts.get(name, 0) < min_examples or counts.get(name, 0) / total < min_share
    }
