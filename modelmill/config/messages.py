"""Validation errors as people read them: the file, then one line per problem at its YAML path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from modelmill.observe.text_cells import shorten


def yaml_path(loc: tuple[Any, ...]) -> str:
    """('pipelines', 'sentiment', 'validation', 'expectations', 0) -> pipelines.sentiment.validation.expectations[0]."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def describe_error(error: dict[str, Any]) -> str:
    # Pydantic puts validator/union branch names into loc; keep only what the user wrote.
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tagged-union"))))
    where = yaml_path(loc) or "(top level)"
    message = error["msg"].removeprefix("Value error, ").replace("\n", "\\n")  # one line per problem
    if error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling; unknown keys are not allowed)"
    elif error["type"] == "missing":
        message = "required key is missing"
    elif "input" in error and not isinstance(error["input"], (dict, list)):
        message += f" (got {shorten(repr(error['input']))})"
    return f"  {where}: {message}"


def format_validation_error(source: Path | str, exc: ValidationError) -> str:
    lines = [f"{source}: {exc.error_count()} error(s) in the pipelines file"]
    lines += [describe_error(err) for err in exc.errors(include_url=False)]
    return "\n".join(lines)
