"""What a pipeline's data is, as one short hash: each source by the identity the cache keys use (a local file by
its name and content, a folder by the names and contents of its data files, an object on storage by its checksum
or ETag, a Hub dataset by the commit its revision names), so that a data trigger and the stages' caches agree on
what "changed" means."""

from __future__ import annotations

from pathlib import Path

from modelmill.config import DataSpec
from modelmill.runtime.errors import DataError
from modelmill.storage.artifacts import file_identity, stable_hash
from modelmill.storage.folders import folder_identity, shown
from modelmill.storage.urls import DataFolder, DataURL


def hub_dataset_commit(spec: DataSpec) -> str:
    """The commit the Hub dataset's revision names now (a request to the Hub; its token from the environment)."""
    from huggingface_hub import HfApi, constants

    from modelmill.hub.errors import secret_safe

    assert spec.hub is not None
    with secret_safe(constants.ENDPOINT, spec.hub.id):
        info = HfApi().dataset_info(spec.hub.id, revision=spec.hub.revision)
    return f"hub:{spec.hub.id}:{spec.hub.config or ''}:{info.sha}"


def source_identities(spec: DataSpec) -> dict[str, str]:
    """Source (its path, URL or Hub id, as written) -> its identity now. A missing local file is a DataError."""
    if spec.hub is not None:
        return {f"hub:{spec.hub.id}": hub_dataset_commit(spec)}
    found = {}
    for source in dict.fromkeys(spec.local_files()):
        if isinstance(source, DataURL):  # a file or a folder
            from modelmill.storage.remote_files import url_identity

            found[str(source)] = url_identity(source)
        elif isinstance(source, DataFolder):
            found[shown(source)] = folder_identity(source)
        elif isinstance(source, Path) and source.is_file():
            found[str(source)] = file_identity(source)
        else:
            raise DataError(f"{source}: data file not found")
    return found


def data_identity(sources: dict[str, str]) -> str:
    """One hash over the identities of `sources` (what `source_identities` returned)."""
    return stable_hash(sorted(sources.values()))
