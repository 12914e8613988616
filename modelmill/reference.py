"""The documentation's reference, generated from what validates and parses: every key of pipelines.yaml from the
pydantic models (type, default, description) and every command and option from the CLI's own parser."""

from __future__ import annotations

import argparse
import enum
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from modelmill.config import PipelinesFile


def model_in(annotation: Any) -> type[BaseModel] | None:
    """The section model a field holds (alone, optional, or as list or dict values), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = model_in(argument)
        if found is not None:
            return found
    return None


def type_text(annotation: Any) -> str:
    """A field's type as a reader writes it in YAML: `int`, `str | null`, `list of str`, `'a' | 'b'`, a section."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_text(arguments[0])
    if origin is typing.Literal:
        return " | ".join(repr(value) for value in arguments)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_text(argument) for argument in arguments)
    if origin in (list, tuple, set, frozenset):
        return f"list of {type_text(arguments[0])}" if arguments else "list"
    if origin is dict:
        return f"mapping of {type_text(arguments[0])} to {type_text(arguments[1])}" if arguments else "mapping"
    if annotation is type(None):
        return "null"
    if annotation is Path:
        return "path"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " | ".join(repr(member.value) for member in annotation)
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def default_text(field: Any) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.default if field.default_factory is None else field.default_factory()
    if isinstance(value, BaseModel):
        return "(its defaults)"
    if isinstance(value, enum.Enum):
        value = value.value
    text = "null" if value is None else str(value).lower() if isinstance(value, bool) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def sections(model: type[BaseModel], path: str) -> Iterator[tuple[str, type[BaseModel]]]:
    """(YAML path, model) of `model` and of every section under it, depth first, each once."""
    yield path, model
    for name, field in model.model_fields.items():
        nested = model_in(field.annotation)
        if nested is not None:
            yield from sections(nested, f"{path}.{name}" if path else name)


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def pipelines_reference() -> str:
    """Markdown: one table per section of pipelines.yaml, keys with type, default and description."""
    parts = []
    for where, section in sections(PipelinesFile, ""):
        title = where.replace("pipelines.", "pipelines.<name>.", 1) if where else "(top level)"
        doc = (section.__doc__ or "").strip().split("\n\n")[0]
        rows = [f"| `{name}` | {cell(type_text(field.annotation))} | `{cell(default_text(field))}` | "
                f"{cell(field.description or '')} |" for name, field in section.model_fields.items()]
        parts.append(f"### `{title}`\n\n{cell(doc)}\n\n| key | type | default | description |\n| --- | --- | --- "
                     f"| --- |\n" + "\n".join(rows) + "\n")
    return "\n".join(parts)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    return dict(action.choices)


def cli_reference() -> str:
    """Markdown: every command with its usage, purpose, arguments and options, as the parser defines them."""
    from modelmill.cli import parser

    root = parser()
    parts = [f"`{root.format_usage().strip().removeprefix('usage: ')}`\n\n{root.description}\n"]
    for name, command in subcommands(root).items():
        rows = []
        for action in command._actions:  # noqa: SLF001
            if isinstance(action, argparse._HelpAction):  # noqa: SLF001
                continue
            names = ", ".join(action.option_strings) or action.dest
            help_text = (action.help or "") % {"default": action.default} if action.help else ""
            rows.append(f"| `{names}` | {cell(help_text)} |")
        usage = " ".join(command.format_usage().split()).removeprefix("usage: ")
        parts.append(f"### `modelmill {name}`\n\n{command.description}\n\n`{usage}`\n\n| argument | meaning |\n"
                     f"| --- | --- |\n" + "\n".join(rows) + "\n")
    return "\n".join(parts)
