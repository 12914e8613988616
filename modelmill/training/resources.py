"""Resolve model and tokenizer references: Hub id, local folder, or `pkg:<package>/<folder>`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from modelmill.runtime.errors import ConfigError

PACKAGE_PREFIX = "pkg:"


def resolve_model_ref(ref: str) -> str:
    """A local path for `pkg:` references (a model shipped inside a Python package); other refs unchanged."""
    if not ref.startswith(PACKAGE_PREFIX):
        return ref
    package, _, folder = ref.removeprefix(PACKAGE_PREFIX).partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"model '{ref}': Python package '{package}' is not installed (pip install it)")
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / folder
    if not path.resolve().is_relative_to(root.resolve()):
        raise ConfigError(f"model '{ref}': '{folder}' is not a folder inside package '{package}'")
    if not path.is_dir():
        raise ConfigError(f"model '{ref}': package '{package}' has no folder '{folder}' ({path})")
    return str(path)
