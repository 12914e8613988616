"""Checks on texts and labels that stop a silently wrong model: nulls, empty texts, missing classes."""

from __future__ import annotations

from collections.abc import Iterable

import datasets

from modelmill.errors import DataError

SHOWN_ROWS = 5


def blank_rows(values: Iterable[object]) -> list[int]:
    """1-based row numbers (header excluded) of null, empty or whitespace-only values."""
    return [
        number
        for number, value in enumerate(values, start=1)
        if value is None or (isinstance(value, str) and not value.strip())
    ]


def describe_rows(rows: list[int]) -> str:
    shown = ", ".join(map(str, rows[:SHOWN_ROWS]))
    return f"{len(rows)} row(s) ({shown}{', …' if len(rows) > SHOWN_ROWS else ''}; 1-based, header excluded)"


def refuse_bad_texts(part: datasets.Dataset, column: str, source: str) -> None:
    """Null or empty texts are an error: the model would learn from nothing."""
    rows = blank_rows(part[column])
    if rows:
        raise DataError(
            f"{source}: column '{column}' (data.text_column) is null or empty in {describe_rows(rows)}; "
            "fix or remove those rows"
        )


def without_null_labels(part: datasets.Dataset, column: str, source: str, drop: bool) -> tuple[datasets.Dataset, int]:
    """`part` without rows whose label is null when `drop` (and how many went); otherwise such rows are an error."""
    rows = blank_rows(part[column])
    if not rows:
        return part, 0
    if not drop:
        raise DataError(
            f"{source}: column '{column}' (data.label_column) is null or empty in {describe_rows(rows)}; fix them, "
            "or set data.drop_null_labels: true to train without those rows"
        )
    keep = sorted(set(range(part.num_rows)) - {row - 1 for row in rows})
    return part.select(keep), len(rows)


def refuse_missing_classes(ids: dict[str, set[int]], labels: list[str], source: str) -> None:
    """Every class must be in train, and every split must hold at least two classes."""
    absent = [labels[i] for i in range(len(labels)) if i not in ids.get("train", set())]
    if absent:
        raise DataError(
            f"{source}: classes {absent} of data.labels never occur in the train split; the model cannot learn "
            "them: add examples or remove them from data.labels"
        )
    for split, present in ids.items():
        if len(present) < 2:
            only = [labels[i] for i in sorted(present)]
            raise DataError(
                f"{source}: split '{split}' holds a single class {only}; a model or a metric on it means nothing: "
                "give every split at least two classes"
            )
