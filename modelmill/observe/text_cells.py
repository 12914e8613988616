"""Values as report cells: long texts cut to a readable length."""

from __future__ import annotations

TEXT_SHOWN = 80  # characters of a text cell in a report


def shorten(value: object) -> object:
    """Texts cut to a readable length for reports; other values unchanged."""
    if isinstance(value, str) and len(value) > TEXT_SHOWN:
        return value[: TEXT_SHOWN - 1] + "…"
    return value
