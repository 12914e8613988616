"""A guarded YAML reader for files people edit: UTF-8 only, no duplicate keys, bounded nesting and expansion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from modelmill.encoding import utf8_error
from modelmill.errors import ConfigError

MAX_DEPTH = 40
MAX_EXPANDED_NODES = 200_000  # what the document would be with every alias copied out (a billion laughs is 10^9)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice (the later one would silently win)."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise ConfigError(
                    f"duplicate key '{key}' on lines {seen[key]} and {line}: the second would silently replace "
                    "the first; keep one"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _check_shape(root: Node) -> None:
    """Refuse documents nested deeper than MAX_DEPTH or that expand (through aliases) past MAX_EXPANDED_NODES."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, children_done = stack.pop()
        if depth > MAX_DEPTH:
            raise ConfigError(f"line {node.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep")
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
    loader = _StrictLoader(data.decode("utf-8"))
    try:
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
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()
