"""Great Expectations rules named in YAML, turned into GX Core 1.x expectation objects."""

from __future__ import annotations

from functools import cache
from typing import Any


def class_name(snake_name: str) -> str:
    """`expect_column_values_to_not_be_null` -> `ExpectColumnValuesToNotBeNull`."""
    return "".join(part.capitalize() for part in snake_name.split("_"))


@cache
def _expectation_classes() -> dict[str, type]:
    import great_expectations as gx

    return {
        name: getattr(gx.expectations, name)
        for name in dir(gx.expectations)
        if name.startswith("Expect")
    }


def build_expectation(snake_name: str, kwargs: dict[str, Any]) -> Any:
    """Instantiate the GX expectation `snake_name` with `kwargs`; ValueError says what is wrong."""
    classes = _expectation_classes()
    cls = classes.get(class_name(snake_name))
    if cls is None or not snake_name.startswith("expect_"):
        from difflib import get_close_matches

        known = sorted(_snake(name) for name in classes)
        hint = get_close_matches(snake_name, known, n=1)
        raise ValueError(
            f"unknown Great Expectations expectation '{snake_name}'"
            + (f"; did you mean '{hint[0]}'?" if hint else "")
        )
    empty = sorted(name for name, value in kwargs.items() if isinstance(value, str) and not value.strip())
    if empty:
        raise ValueError(f"invalid arguments for '{snake_name}': {', '.join(empty)} is empty; give a value or leave it out")
    try:
        return cls(**kwargs)
    except Exception as exc:  # GX raises pydantic v1 errors; keep their text, drop the type
        details = "; ".join(
            f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in getattr(exc, "errors", lambda: [])()
        ) or str(exc)
        raise ValueError(f"invalid arguments for '{snake_name}': {details}") from None


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel).lstrip("_")
