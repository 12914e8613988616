"""Slices of a split: one per value of a column, or per text-length bucket."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from modelmill.config import SliceSpec
from modelmill.data.facts import column
from modelmill.manifests import SliceScores
from modelmill.runtime.errors import ConfigError

if TYPE_CHECKING:
    import datasets

EMPTY = "(empty)"


def bucket_names(edges: list[int]) -> list[str]:
    """'< 50', '50-149', '>= 150' for edges [50, 150] (lengths in characters)."""
    names = [f"< {edges[0]}"]
    names += [f"{low}-{high - 1}" for low, high in zip(edges, edges[1:])]
    return [*names, f">= {edges[-1]}"]


def slice_values(spec: SliceSpec, rows: datasets.Dataset, text_column: str, where: str) -> list[str]:
    """The slice each row belongs to."""
    if spec.length_buckets is not None:
        names = bucket_names(spec.length_buckets)
        lengths = np.array([len(text) for text in column(rows, text_column)])
        return [names[i] for i in np.searchsorted(spec.length_buckets, lengths, side="right")]
    if spec.column not in rows.column_names:
        raise ConfigError(f"{where}.column: the test split has no column '{spec.column}'; columns are "
                          f"{rows.column_names}")
    return [EMPTY if value is None or str(value).strip() == "" else str(value) for value in rows[spec.column]]


def slice_scores(
    spec: SliceSpec,
    values: list[str],
    score: Callable[[np.ndarray], dict[str, float]],
) -> list[SliceScores]:
    """`score(row indices)` for every slice (length buckets in order, column values largest first); slices under
    `min_examples` are not gated."""
    groups: dict[str, list[int]] = {}
    for index, value in enumerate(values):
        groups.setdefault(value, []).append(index)
    if spec.length_buckets is not None:
        ordered = [(name, groups[name]) for name in bucket_names(spec.length_buckets) if name in groups]
    else:
        ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [
        SliceScores(
            slicing=spec.title, value=value, num_examples=len(rows), metrics=score(np.array(rows)),
            gated=len(rows) >= spec.min_examples,
        )
        for value, rows in ordered
    ]
