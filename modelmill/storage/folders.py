"""A data folder (a local folder, or an s3://bucket/prefix/ URL) as one source: its data files in name order, and
an identity that changes when a file is added, removed or changed, never when a file is only touched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelmill.runtime.errors import DataError
from modelmill.storage.urls import DataFolder, DataURL

DATA_SUFFIXES = (".csv", ".json", ".jsonl", ".parquet")
HIDDEN = (".", "_")  # .DS_Store, _SUCCESS, _temporary/: what tools leave beside data, never data


def is_data_file(relative: str) -> bool:
    """A file of a folder is data when it has a data suffix and no part of its path is hidden."""
    parts = relative.split("/")
    return relative.lower().endswith(DATA_SUFFIXES) and not any(part.startswith(HIDDEN) for part in parts)


def folder_entries(folder: DataFolder | DataURL) -> dict[str, Any]:
    """Relative name (posix, in the folder) -> the file (a Path) or its listing (a URL's metadata), for every data
    file under `folder`, in name order; a DataError names the folder when it is missing or holds none."""
    if isinstance(folder, DataURL):
        entries = url_entries(folder)
    elif not folder.is_dir():
        raise DataError(f"{shown(folder)}: data folder not found")
    else:
        plain = Path(folder)  # its children are files, not DataFolders
        entries = {path.relative_to(plain).as_posix(): path for path in plain.rglob("*") if path.is_file()}
    found = {name: entries[name] for name in sorted(entries) if is_data_file(name)}
    if not found:
        raise DataError(f"{shown(folder)}: the folder holds no data files ({', '.join(DATA_SUFFIXES)}; names "
                        f"starting with {' or '.join(HIDDEN)} are skipped)")
    return found


def url_entries(folder: DataURL) -> dict[str, Any]:
    """The objects under a folder URL, by name relative to it, with their metadata (one listing, no download)."""
    from modelmill.storage.remote_files import filesystem

    fs = filesystem(folder)
    try:
        fs.invalidate_cache()
        listed = fs.find(str(folder), detail=True)
    except Exception as exc:  # credentials, endpoint, permissions: what the store said, never a secret
        raise DataError(f"{folder}: cannot be listed: {type(exc).__name__}: {exc}") from None
    prefix = fs._strip_protocol(str(folder)).rstrip("/") + "/"
    return {key[len(prefix):]: info for key, info in listed.items()
            if key.startswith(prefix) and info.get("type", "file") == "file"}


def folder_files(folder: DataFolder | DataURL) -> dict[str, Path | DataURL]:
    """Relative name -> the data file to read (a local path, or the object's URL), in name order."""
    entries = folder_entries(folder)
    if isinstance(folder, DataURL):
        return {name: DataURL(folder + name) for name in entries}
    return dict(entries)


def folder_identity(folder: DataFolder | DataURL) -> str:
    """The folder by its name and the names and identities of its data files (content hashes, or the objects'
    checksums): a new, removed or changed file changes it; touching a file does not."""
    from modelmill.storage.artifacts import file_identity, stable_hash

    entries = folder_entries(folder)
    if isinstance(folder, DataURL):
        from modelmill.storage.remote_files import version_of

        files = {name: version_of(info, folder + name) for name, info in entries.items()}
    else:
        files = {name: file_identity(path) for name, path in entries.items()}
    return f"folder:{folder.name}:{stable_hash(files)}"


def shown(folder: DataFolder | DataURL | Path) -> str:
    """A folder as messages name it: with its trailing slash."""
    return str(folder) if str(folder).endswith("/") else f"{folder}/"
