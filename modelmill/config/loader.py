"""A guarded YAML reader for files people edit: UTF-8 only, plain values (strings, numbers, booleans, null), lists
and mappings with plain keys, no duplicate keys, bounded nesting and expansion; every refusal is one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from modelmill.data.encoding import utf8_error
from modelmill.runtime.errors import ConfigError

MAX_DEPTH = 40
MAX_EXPANDED_NODES = 200_000  # what the document would be with every alias copied out (a billion laughs is 10^9)
CORE = "tag:yaml.org,2002:"
PLAIN_TAGS = frozenset(f"{CORE}{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map", "merge"))


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice (the later one would silently win), and reads a
    date-like value as the text it is (YAML 1.2, as editors read it), not as a date."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != f"{CORE}timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == f"{CORE}merge":  # `<<: *defaults`: its keys may be overridden here, on purpose
                continue
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise ConfigError(
                    f"duplicate key '{key}' on lines {seen[key]} and {line}: the second would silently replace "
                    "the first; keep one"
                )
            seen[key] = line
        self.flatten_mapping(node)
        return super().construct_mapping(node, deep=deep)


def _check_node(node: Node) -> None:
    """Only plain tags (an explicit `!!str` is fine; `!!set`, `!!binary`, `!python/...`, `!custom` are not), and
    mapping keys that are plain values, not lists or mappings."""
    line = node.start_mark.line + 1
    if node.tag not in PLAIN_TAGS:
        tag = node.tag.replace(CORE, "!!", 1) if node.tag.startswith(CORE) else node.tag
        raise ConfigError(f"line {line}: the YAML tag '{tag}' is not allowed; write plain values, lists and mappings")
    if isinstance(node, MappingNode):
        for key, _ in node.value:
            if not isinstance(key, ScalarNode):
                raise ConfigError(
                    f"line {key.start_mark.line + 1}: a key must be a plain value, not a "
                    f"{'list' if isinstance(key, SequenceNode) else 'mapping'}"
                )


def _check_shape(root: Node) -> None:
    """Refuse documents nested deeper than MAX_DEPTH or that expand (through aliases) past MAX_EXPANDED_NODES, and
    nodes `_check_node` refuses."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, children_done = stack.pop()
        if depth > MAX_DEPTH:
            raise ConfigError(f"line {node.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep")
        if not children_done:
            _check_node(node)
        children: list[Node] = []
        if isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, SequenceNode):
            children = list(node.value)
        if children_done:
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[id(node)] > MAX_EXPANDED_NODES:
                raise ConfigError(
                    f"line {node.start_mark.line + 1}: aliases expand this document past {MAX_EXPANDED_NODES} "
                    "values; write the values out or use fewer aliases"
                )
        elif id(node) not in sizes:
            stack.append((node, depth, True))
            stack.extend((child, depth + 1, False) for child in children if id(child) not in sizes)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """The parser's complaint on one line, with where it is ('line 3, column 7: found character ...')."""
    if isinstance(exc, yaml.reader.ReaderError):
        return f"offset {exc.position}: character #x{exc.character:04x} is not allowed in YAML text"
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = " ".join(str(part) for part in (getattr(exc, "context", None), getattr(exc, "problem", None)) if part)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem or str(exc).splitlines()[0]}"


def load_yaml_file(path: Path) -> Any:
    """The parsed document; a ConfigError naming the file for unreadable, non-UTF-8, hostile or invalid YAML."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if where := utf8_error(data):
        raise ConfigError(f"{path}: not UTF-8: {where}; save the file as UTF-8")
    loader = None
    try:
        loader = _StrictLoader(data.decode("utf-8"))  # it checks the characters at once
        root = loader.get_single_node()
        if root is None:
            return None
        _check_shape(root)
        return loader.construct_document(root)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read (more than {MAX_DEPTH} levels)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {yaml_problem(exc)}") from None
    finally:
        if loader is not None:
            loader.dispose()
