"""Locations named by URLs: their scheme, and the type of a data file named by one. A leaf module (no imports of
modelmill), so the config and the storage layers can both use it."""

from __future__ import annotations

from pathlib import PurePosixPath


def protocol_of(location: str) -> str:
    """The URL scheme of `location`, lower case; '' for a path."""
    return location.split("://", 1)[0].lower() if "://" in location else ""


class DataURL(str):
    """A data file named by a URL on object storage; `name` and `suffix` as a path has them."""

    @property
    def name(self) -> str:
        return self.rstrip("/").rsplit("/", 1)[-1]

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix
