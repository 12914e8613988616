"""The home: where everything a run keeps lives, a local folder or an fsspec URL (`s3://`, `gs://`, `abfs://`).

With a local home, outputs are folders under it, published by a rename, and manifests name them by absolute path
(as they always have). With a remote home, a stage still builds its output in a real local folder (libraries need
real folders), then uploads it to an immutable prefix under the home and writes a completion marker last; manifests
name the output by its place under the home (a relative path), and a reader on any machine gets a local copy
through the read cache (`local_copy`). A prefix without its marker does not exist for any reader.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

from modelmill.runtime.errors import ConfigError
from modelmill.storage.urls import protocol_of

COMPLETE = "_MODELMILL_COMPLETE"  # the last object of a published prefix: what it holds, file by file
CREDENTIAL_OPTIONS = ("key", "secret", "token", "password", "account_key", "sas_token", "client_secret",
                      "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "session_token",
                      "credentials", "connection_string")


class HomeError(ConfigError):
    """A home or its storage options that cannot be used, named by the setting it came from."""


def storage_options(raw: str | None) -> dict[str, Any]:
    """MODELMILL_STORAGE_OPTIONS as a dict: endpoint, region and the like; credentials are refused (they come from
    the environment or the machine's role, so they are never saved in a block, a record or a log)."""
    if not raw:
        return {}
    try:
        options = json.loads(raw)
    except ValueError as error:
        raise HomeError(f"MODELMILL_STORAGE_OPTIONS is not JSON: {error}") from None
    if not isinstance(options, dict):
        raise HomeError("MODELMILL_STORAGE_OPTIONS must be a JSON object, e.g. "
                        '{"client_kwargs": {"endpoint_url": "https://..."}}')
    found = sorted(_credential_keys(options))
    if found:
        raise HomeError(f"MODELMILL_STORAGE_OPTIONS holds credentials ({', '.join(found)}): set them in the "
                        "environment (AWS_ACCESS_KEY_ID, GOOGLE_APPLICATION_CREDENTIALS, ...) or use the machine's "
                        "role")
    return options


def _credential_keys(value: Any, where: str = "") -> list[str]:
    if not isinstance(value, dict):
        return []
    found = []
    for key, item in value.items():
        path = f"{where}.{key}" if where else str(key)
        if str(key).lower() in CREDENTIAL_OPTIONS:
            found.append(path)
        found += _credential_keys(item, path)
    return found


@dataclass(frozen=True)
class Home:
    """One home, resolved from the settings: `location` is an absolute local path or a URL."""

    location: str
    options_json: str = ""
    cache_dir: str = ""

    @property
    def remote(self) -> bool:
        return bool(protocol_of(self.location)) and protocol_of(self.location) != "file"

    @cached_property
    def options(self) -> dict[str, Any]:
        return storage_options(self.options_json)

    @property
    def cache_root(self) -> Path:
        """This machine's read cache (MODELMILL_CACHE_DIR, default ~/.cache/modelmill)."""
        return Path(self.cache_dir or Path.home() / ".cache" / "modelmill").resolve()

    @cached_property
    def local(self) -> Path:
        """The local root: the home itself, or, for a remote home, this machine's mirror of it (the read cache,
        scratch, flock locks, the temporary server's database and this machine's run records)."""
        if not self.remote:
            return Path(self.location.removeprefix("file://")).resolve()
        digest = hashlib.sha256(self.location.rstrip("/").encode()).hexdigest()[:12]
        return self.cache_root / f"home-{digest}"

    @cached_property
    def fs(self) -> Any:
        """The fsspec filesystem of a remote home."""
        return self.filesystem(self.location, named=f"MODELMILL_HOME={self.location}")

    def filesystem(self, location: str, named: str = "") -> Any:
        """The fsspec filesystem of a URL (the home, a data file) with the home's storage options; its package
        comes with modelmill[s3], [gcs] or [azure]."""
        import fsspec

        protocol = protocol_of(location)
        try:
            return fsspec.filesystem(protocol, **self.options)
        except ImportError as error:
            extra = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}.get(protocol, "azure")
            raise HomeError(f"{named or location}: {error} (pip install 'modelmill[{extra}]')") from None

    def unreachable(self, timeout: float = 20.0) -> str | None:
        """Why a remote home cannot be used now (its store does not answer, refuses, or lacks the bucket), found
        by asking for the bucket (one request, whatever it holds) within `timeout` seconds; None when it answers
        (or the home is local)."""
        import threading

        if not self.remote:
            return None
        bucket = self.location.split("://", 1)[1].split("/", 1)[0]
        outcome: list[BaseException | None] = []

        def probe() -> None:
            try:
                self.fs.info(bucket)
                outcome.append(None)
            except BaseException as exc:  # any store's error: said in one line
                outcome.append(exc)

        worker = threading.Thread(target=probe, name="modelmill-home-probe", daemon=True)
        worker.start()
        worker.join(timeout)
        if not outcome:
            return f"its store did not answer within {timeout:.0f} s"
        error = outcome[0]
        if error is None:
            return None
        if isinstance(error, FileNotFoundError):
            return f"its bucket '{bucket}' does not exist"
        reason = (str(error).strip().splitlines() or [""])[0][:300]
        return f"{type(error).__name__}: {reason}" if reason else type(error).__name__

    def url(self, relative: str | Path = "") -> str:
        """The full location of `relative` under the home."""
        base = self.location.rstrip("/") if self.remote else str(self.local)
        return f"{base}/{Path(relative).as_posix()}" if str(relative) not in ("", ".") else base

    def block_name(self) -> str:
        """The name of the saved storage block of this home's Prefect results (a pure function of the home)."""
        return "modelmill-home-" + hashlib.sha256(self.url("prefect-results").encode()).hexdigest()[:12]

    def results_filesystem(self) -> Any:
        """Prefect results and cache records under the home: a storage block, never a URL string (Prefect turns
        those into local `./s3:/` folders)."""
        from prefect.filesystems import LocalFileSystem, RemoteFileSystem

        if not self.remote:
            return LocalFileSystem(basepath=str(self.local / "prefect-results"))
        return RemoteFileSystem(basepath=self.url("prefect-results"), settings=self.options)

    def result_storage(self) -> Any:
        """What flows and tasks take as `result_storage`: a local folder, or the slug of the saved block (the
        block itself is saved by `save_result_block` once a Prefect API is up)."""
        if not self.remote:
            return self.local / "prefect-results"
        return f"remote-file-system/{self.block_name()}"

    def save_result_block(self) -> None:
        """Save the results block of a remote home on the current Prefect API (idempotent)."""
        if self.remote:
            self.results_filesystem().save(self.block_name(), overwrite=True)

    # publishing

    def published(self, relative: Path) -> bool:
        """Whether an output prefix was published in full (its marker exists)."""
        if not self.remote:
            return (self.local / relative).exists()
        return self.fs.exists(self.url(Path(relative) / COMPLETE))

    def publish(self, folder: Path, relative: Path) -> None:
        """Upload `folder` to `relative` under the home, file by file, then the marker. Keys are never
        overwritten: an existing marker means this output exists already, which is refused."""
        if self.published(relative):
            raise FileExistsError(f"{self.url(relative)} is already published; outputs are never overwritten")
        files = sorted(path for path in folder.rglob("*") if path.is_file())
        listing = {path.relative_to(folder).as_posix(): path.stat().st_size for path in files}
        for path in files:
            self.fs.put_file(str(path), self.url(Path(relative) / path.relative_to(folder)))
        self.fs.pipe_file(self.url(Path(relative) / COMPLETE), json.dumps({"files": listing}).encode())

    def download(self, relative: Path, target: Path) -> None:
        """Copy a published prefix into the local folder `target` (which must not exist), checking every file
        named by its marker arrived whole."""
        listing = json.loads(self.fs.cat_file(self.url(Path(relative) / COMPLETE)))["files"]
        for name in listing:  # a marker is written by any machine with access to the bucket: no name leaves target
            parts = PurePosixPath(name).parts
            if not parts or PurePosixPath(name).is_absolute() or ".." in parts:
                raise HomeError(f"{self.url(Path(relative) / COMPLETE)} lists {name!r}, which is not a file inside "
                                "the output: refused")
        scratch = target.with_name(f".{target.name}.download-{os.getpid()}")
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            for name, size in listing.items():
                local = scratch / name
                local.parent.mkdir(parents=True, exist_ok=True)
                self.fs.get_file(self.url(Path(relative) / name), str(local))
                if local.stat().st_size != size:
                    raise OSError(f"{self.url(Path(relative) / name)}: {local.stat().st_size} bytes, expected {size}")
            scratch.mkdir(parents=True, exist_ok=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            scratch.rename(target)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise


def current_home() -> Home:
    from modelmill.storage.settings import get_settings

    settings = get_settings()
    raw = settings.home
    location = raw if protocol_of(raw) not in ("", "file") else str(Path(raw.removeprefix("file://")).resolve())
    return Home(location, settings.storage_options or "", str(settings.cache_dir or ""))


OUTPUT_DEPTH = 4  # artifacts/<stage>/<key>/<output>: the unit that is published, marked and downloaded


def output_prefix(path: Path) -> Path:
    """The published output that a path relative to the home lies in (a figure inside an evaluation output)."""
    return Path(*Path(path).parts[:OUTPUT_DEPTH])


def local_copy(path: Path) -> Path:
    """A real local path for an output named in a manifest: an absolute path as it is; a path relative to a
    remote home through the read cache, its whole output downloaded once per machine (only a published output is
    ever read)."""
    from modelmill.storage.read_cache import make_room, touch

    path = Path(path)
    if path.is_absolute():
        return path
    home = current_home()
    prefix, target = output_prefix(path), home.local / path
    if not home.remote:
        return target
    if not (home.local / prefix).exists():
        if not home.published(prefix):
            raise FileNotFoundError(f"{home.url(prefix)} is not published (no {COMPLETE} marker)")
        make_room(home)
        home.download(prefix, home.local / prefix)
    touch(home.local / prefix)
    return target


def exists(path: Path) -> bool:
    """Whether an output named in a manifest exists: a local path on disk, a remote one by its output's marker."""
    path = Path(path)
    return path.exists() if path.is_absolute() else current_home().published(output_prefix(path))
