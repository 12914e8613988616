"""Locations named by URLs: their scheme, and the types of a data file or folder named by one. A leaf module (no
imports of modelmill), so the config and the storage layers can both use it."""

from __future__ import annotations

from pathlib import Path, PurePosixPath


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

    @property
    def is_folder(self) -> bool:
        """Written with a trailing slash (s3://bucket/incoming/): every data file under it, read as one."""
        return self.endswith("/")


class DataFolder(type(Path())):  # type: ignore[misc]  # the concrete Path class: 3.11 cannot subclass Path
    """A local data folder: every data file under it, read as one (`data/incoming/` in the YAML, or a path
    that is a folder)."""


def is_data_folder(location: object) -> bool:
    """`location` names a folder of data files (local or on object storage), not one file."""
    return isinstance(location, DataFolder) or (isinstance(location, DataURL) and location.is_folder)
