"""Data files named by URLs (s3://, gs://, abfs://), read with the home's storage options: identified by the
object's checksum or ETag (no download to compute a cache key), read through a local copy keyed by it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from modelmill.runtime.errors import DataError
from modelmill.storage.home import current_home
from modelmill.storage.urls import DataURL

CHECKSUM_FIELDS = ("ETag", "etag", "md5Hash", "crc32c", "content_md5", "checksum")


def filesystem(url: DataURL) -> Any:
    return current_home().filesystem(url)


def object_info(url: DataURL) -> dict[str, Any]:
    """The object's metadata; a DataError names the URL when it cannot be read."""
    fs = filesystem(url)
    try:
        fs.invalidate_cache()
        info = fs.info(url)
    except FileNotFoundError:
        raise DataError(f"{url}: file not found") from None
    except Exception as exc:  # credentials, endpoint, permissions: what the store said, never a secret
        raise DataError(f"{url}: cannot be read: {type(exc).__name__}: {exc}") from None
    if info.get("type") == "directory":
        raise DataError(f"{url}: is a folder; write it with a trailing slash ({url.rstrip('/')}/) to read every "
                        "data file in it")
    return info


def url_version(url: DataURL) -> str:
    """What changes when the object's content changes: its checksum or ETag (with its size)."""
    return version_of(object_info(url), url)


def version_of(info: dict[str, Any], url: str) -> str:
    """An object's version from its metadata (`info`, as fsspec lists it): checksum or ETag, and size."""
    checksum = next((str(info[name]) for name in CHECKSUM_FIELDS if info.get(name)), None)
    if checksum is None:  # a store without checksums: what fsspec derives from the metadata
        checksum = str(filesystem(DataURL(url)).checksum(url))
    return hashlib.sha256(f"{checksum}:{info.get('size')}".encode()).hexdigest()[:16]


def url_identity(url: DataURL) -> str:
    """A data URL in a cache key: by its name and version, as a local file is by its name and content (a folder:
    by the names and versions of its data files)."""
    if url.is_folder:
        from modelmill.storage.folders import folder_identity

        return folder_identity(url)
    return f"url:{url.name}:{url_version(url)}"


def fetch(url: DataURL) -> Path:
    """A local copy of the object, downloaded once per version into this machine's read cache."""
    target = current_home().cache_root / "data" / url_version(url) / url.name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.download-{os.getpid()}")
    try:
        filesystem(url).get_file(url, str(scratch))
        scratch.rename(target)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    return target

