"""What the spec checks against the libraries, without importing them: Great Expectations' expectations (names,
arguments, the kinds of value each takes) and transformers' `TrainingArguments` fields and schedulers, read from
`library_index.json`, which this module writes from the installed libraries.

Importing Great Expectations takes seconds, transformers' `TrainingArguments` nearly two: too long for `modelmill
list` or a spec check. The index gives the same errors at the same YAML paths for names, unknown or missing
arguments and wrong kinds of value; the full objects are still built before any work (`modelmill check`, the start
of a run), which catches the rest. A test checks the index against the installed libraries:
`python -m modelmill.config.library_index` writes it anew after an upgrade.
"""

from __future__ import annotations

import json
import types
import typing
from difflib import get_close_matches
from functools import cache
from pathlib import Path
from typing import Any

INDEX = Path(__file__).with_name("library_index.json")
NUMBER_TEXT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"  # what PyYAML leaves as text: 3e-5
KINDS = ("text", "number", "boolean", "list", "mapping", "null")


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel).lstrip("_")


def _kinds(annotation: Any) -> dict[str, Any]:
    """The kinds of YAML value a GX field takes, its allowed values (a Literal, an Enum) and its bounds."""
    import enum

    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        merged: dict[str, Any] = {"kinds": []}
        for arg in typing.get_args(annotation):
            part = _kinds(arg)
            merged["kinds"] = sorted(set(merged["kinds"]) | set(part["kinds"]))
            for key in ("values", "minimum", "maximum"):
                if key in part:
                    merged[key] = part[key]
        if "any" in merged["kinds"]:
            return {"kinds": ["any"]}
        return merged
    if origin is typing.Literal:
        return {"kinds": ["text"], "values": [str(value) for value in typing.get_args(annotation)]}
    if origin in (list, set, tuple, frozenset, typing.List, typing.Set, typing.Tuple):
        return {"kinds": ["list"]}
    if origin in (dict, typing.Dict):
        return {"kinds": ["mapping"]}
    if annotation is type(None):
        return {"kinds": ["null"]}
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return {"kinds": ["boolean"]}
        if issubclass(annotation, enum.Enum):
            return {"kinds": ["text"], "values": [str(member.value) for member in annotation]}
        if issubclass(annotation, (int, float)):
            bounds = {"minimum": getattr(annotation, "ge", None), "maximum": getattr(annotation, "le", None)}
            return {"kinds": ["number"], **{key: value for key, value in bounds.items() if value is not None}}
        if issubclass(annotation, str):
            return {"kinds": ["text"]}
        if issubclass(annotation, (list, set, tuple)):
            return {"kinds": ["list"]}
        if issubclass(annotation, dict) or hasattr(annotation, "__fields__"):
            return {"kinds": ["mapping"]}
    return {"kinds": ["any"]}


def _argument_kinds(annotation: Any) -> dict[str, Any]:
    """The kinds of YAML value a `TrainingArguments` field takes, and whether its numbers are whole (the values of
    its enums are left to `TrainingArguments`: most also take free text)."""
    parts = [arg for arg in typing.get_args(annotation) or (annotation,) if arg is not type(None)]
    whole = bool(parts) and all(isinstance(arg, type) and issubclass(arg, int) and not issubclass(arg, bool)
                                for arg in parts)
    return {"kinds": _kinds(annotation)["kinds"], "integer": whole}


def generate() -> dict[str, Any]:
    """The index, read from the installed Great Expectations and transformers."""
    from dataclasses import fields

    import great_expectations as gx
    import transformers
    from transformers import SchedulerType, TrainingArguments

    hints = typing.get_type_hints(TrainingArguments)
    expectations = {}
    for name in sorted(dir(gx.expectations)):
        cls = getattr(gx.expectations, name)
        if not name.startswith("Expect") or not hasattr(cls, "__fields__"):
            continue
        arguments = {}
        for field_name, field in cls.__fields__.items():
            spec = _kinds(field.outer_type_)
            if field.allow_none and "any" not in spec["kinds"] and "null" not in spec["kinds"]:
                spec["kinds"] = sorted({*spec["kinds"], "null"})
            arguments[field_name] = {**spec, "required": bool(field.required)}
        expectations[_snake(name)] = arguments
    return {
        "great_expectations": {"version": gx.__version__, "expectations": expectations},
        "transformers": {
            "version": transformers.__version__,
            "training_arguments": {field.name: _argument_kinds(hints[field.name]) for field in fields(TrainingArguments)},
            "schedulers": [kind.value for kind in SchedulerType],
        },
    }


@cache
def index() -> dict[str, Any]:
    return json.loads(INDEX.read_text(encoding="utf-8"))


def expectation_names() -> list[str]:
    return sorted(index()["great_expectations"]["expectations"])


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    return "list" if isinstance(value, list) else "mapping"


def rule_problem(name: str, kwargs: dict[str, Any]) -> str | None:
    """Why `name(**kwargs)` is not a GX expectation (an unknown name, an unknown or missing argument, a value of
    the wrong kind or out of bounds), or None. The messages are those the full check gives."""
    known = index()["great_expectations"]["expectations"]
    arguments = known.get(name)
    if arguments is None or not name.startswith("expect_"):
        hint = get_close_matches(name, list(known), n=1)
        return f"unknown Great Expectations expectation '{name}'" + (f"; did you mean '{hint[0]}'?" if hint else "")
    empty = sorted(key for key, value in kwargs.items() if isinstance(value, str) and not value.strip())
    if empty:
        return f"invalid arguments for '{name}': {', '.join(empty)} is empty; give a value or leave it out"
    problems = []
    for key in sorted(set(kwargs) - set(arguments)):
        hint = get_close_matches(key, list(arguments), n=1)
        problems.append(f"{key}: not an argument of this expectation" + (f" (did you mean {hint[0]}?)" if hint else ""))
    problems += [f"{key}: required" for key, spec in arguments.items() if spec["required"] and key not in kwargs]
    for key, value in kwargs.items():
        spec = arguments.get(key)
        if spec is None or "any" in spec["kinds"]:
            continue
        kind = _kind_of(value)
        if kind not in spec["kinds"]:
            problems.append(f"{key}: should be {' or '.join(spec['kinds'])}, not {kind} ({value!r})")
        elif kind == "text" and "values" in spec and value not in spec["values"]:
            problems.append(f"{key}: should be one of {spec['values']} (got {value!r})")
        elif kind == "number" and not spec.get("minimum", value) <= value <= spec.get("maximum", value):
            problems.append(f"{key}: should be in [{spec.get('minimum', '-inf')}, {spec.get('maximum', 'inf')}] "
                            f"(got {value})")
    return f"invalid arguments for '{name}': {'; '.join(problems)}" if problems else None


def training_argument_names() -> frozenset[str]:
    return frozenset(index()["transformers"]["training_arguments"])


def argument_value(name: str, value: Any) -> Any:
    """`value` as `TrainingArguments.<name>` takes it: a number PyYAML read as text (`1e-8`) is a number when the
    field takes numbers and no text."""
    import re

    kinds = index()["transformers"]["training_arguments"][name]["kinds"]
    if isinstance(value, str) and "number" in kinds and "text" not in kinds and re.match(NUMBER_TEXT, value.strip()):
        return float(value)
    return value


def argument_problem(name: str, value: Any) -> str | None:
    """Why `value` is not of a kind `TrainingArguments.<name>` takes (text for a number, a fraction for a whole
    number, nan or infinity), or None."""
    import math

    spec = index()["transformers"]["training_arguments"][name]
    kind = _kind_of(value)
    if "any" not in spec["kinds"] and kind not in spec["kinds"]:
        return f"should be {' or '.join(spec['kinds'])}, not {kind} ({value!r})"
    if kind == "number" and not math.isfinite(value):
        return f"should be a finite number, not {value}"
    if kind == "number" and spec["integer"] and value != int(value):
        return f"should be a whole number, not {value}"
    return None


def scheduler_names() -> list[str]:
    return list(index()["transformers"]["schedulers"])


def installed_versions() -> dict[str, str]:
    """The versions of the indexed libraries as installed (read from their metadata: nothing is imported)."""
    from importlib.metadata import version

    return {"great_expectations": version("great_expectations"), "transformers": version("transformers")}


if __name__ == "__main__":
    INDEX.write_text(json.dumps(generate(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {INDEX}")
