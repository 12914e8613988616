"""A loopback Hub-compatible HTTP server for tests, spoken to by the unmodified `huggingface_hub` client.

It implements what a push, a release and a download use: create repo, `validate-yaml`, preupload (answering
each file's oid, so unchanged files are skipped), the git-LFS batch API with a basic PUT transfer, NDJSON
commits kept as snapshots, refs (branches, converts, tags), create/delete tag, the commit listing, and tree,
model info and `resolve` downloads at any revision (branch, tag or commit). It is an LFS-only server (no Xet
storage), so clients must run with HF_HUB_DISABLE_XET=1. Like the Hub, a new repo starts with an initial commit
(`.gitattributes`), and a commit whose `parentCommit` is no longer the head is refused with 412. Faults can be
injected per method and path: an error status, an error after the request took effect (a lost response), a dropped
connection, a hang, or a request applied late (after the client gave up). It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import select
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx", ".h5", ".msgpack")
INITIAL_COMMIT = "initial commit"
GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n"
REPO = r"(?P<repo>[\w.-]+/[\w.-]+)"


def git_blob_sha(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class StoredFile:
    content: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class Commit:
    oid: str
    title: str
    message: str
    date: str
    files: dict[str, StoredFile]


@dataclass
class Repo:
    private: bool
    commits: list[Commit] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)  # tag -> commit oid

    @property
    def head(self) -> str:
        return self.commits[-1].oid if self.commits else "0" * 40

    @property
    def releases(self) -> list[Commit]:
        """The commits after the Hub's initial one."""
        return self.commits[1:]

    def append(self, title: str, message: str, files: dict[str, StoredFile]) -> str:
        """Add a commit on main; returns its oid."""
        oid = hashlib.sha1(f"{len(self.commits)}:{title}:{message}:{sorted(files)}".encode()).hexdigest()
        date = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
        self.commits.append(Commit(oid, title, message, date, files))
        return oid

    @property
    def files(self) -> dict[str, StoredFile]:
        return self.commits[-1].files if self.commits else {}

    def at(self, revision: str) -> Commit | None:
        """The commit a branch (main), tag or commit oid names; None when unknown."""
        if revision in ("main", "refs/heads/main"):
            return self.commits[-1] if self.commits else None
        oid = self.tags.get(revision.removeprefix("refs/tags/"), revision)
        return next((commit for commit in self.commits if commit.oid == oid), None)


@dataclass
class Fault:
    method: str
    path_pattern: str
    status: int
    remaining: int
    kind: str = "status"  # status | after (takes effect, answered with an error) | drop | hang | late
    seconds: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)


class HubState:
    """What the server holds, plus a request log and the faults still to inject."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.lfs_blobs: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self.lock = threading.Lock()

    def fail_next(self, method: str, path_pattern: str, status: int, times: int = 1) -> None:
        """Answer the next `times` requests matching method and path regex with `status`."""
        self.faults.append(Fault(method, path_pattern, status, times))

    def lose_response(self, method: str, path_pattern: str, status: int = 502, times: int = 1) -> None:
        """Let the next matching requests take effect, then answer `status` (the client never sees the result)."""
        self.faults.append(Fault(method, path_pattern, status, times, kind="after"))

    def drop_connection(self, method: str, path_pattern: str, times: int = 1) -> None:
        """Close the connection without an answer, before the request takes effect."""
        self.faults.append(Fault(method, path_pattern, 0, times, kind="drop"))

    def hang(self, method: str, path_pattern: str, seconds: float, times: int = 1) -> Fault:
        """Leave the next matching requests unanswered for `seconds`, then drop them (they take no effect);
        `fault.done` is set once a client hung up on one first."""
        fault = Fault(method, path_pattern, 0, times, kind="hang", seconds=seconds)
        self.faults.append(fault)
        return fault

    def apply_late(self, method: str, path_pattern: str, seconds: float) -> Fault:
        """Hold the next matching request for `seconds` (its client times out meanwhile), then apply it as the Hub
        would at that moment; `fault.done` is set once it was applied (or refused)."""
        fault = Fault(method, path_pattern, 0, 1, kind="late", seconds=seconds)
        self.faults.append(fault)
        return fault

    def before_next(self, method: str, path_pattern: str, action: Any) -> None:
        """Run `action(state)` just before the next matching request is handled (another publisher, say)."""
        self.faults.append(Fault(method, path_pattern, 0, 1, kind="before"))
        self.faults[-1].action = action  # type: ignore[attr-defined]

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.remaining and fault.method == method and re.search(fault.path_pattern, path):
                    fault.remaining -= 1
                    return fault
        return None


class HubHandler(BaseHTTPRequestHandler):
    state: HubState  # set on the subclass made per server
    base_url: str

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    # ---------------------------------------------------------------- plumbing

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, head: bool = False) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    def _error(self, status: int, message: str, code: str | None = None) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code  # what the client turns into RepositoryNotFoundError and the like
        self._send(status, json.dumps({"error": message}).encode(), headers)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _authorized(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {self.state.token}"

    def _client_gives_up_within(self, seconds: float) -> bool:
        """Wait up to `seconds` for the client to close the connection (what it still sends is read and dropped)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if select.select([self.connection], [], [], min(left, 0.2))[0]:
                try:
                    if not self.connection.recv(65536):
                        return True
                except OSError:
                    return True
        return False

    def _dispatch(self, method: str) -> None:
        path = unquote(urlsplit(self.path).path)
        self.state.requests.append((method, path))
        fault = self.state.take_fault(method, path)
        if fault is not None and fault.kind == "status":
            return self._error(fault.status, f"injected fault {fault.status}")
        if fault is not None and fault.kind == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        if fault is not None and fault.kind == "hang":  # never answers: waits, then drops the connection
            if self._client_gives_up_within(fault.seconds):
                fault.done.set()
            self.close_connection = True
            return None
        if fault is not None and fault.kind == "before":
            fault.action(self.state)  # type: ignore[attr-defined]
        if fault is not None and fault.kind == "late":  # the client gave up long ago; the Hub applies it anyway
            time.sleep(fault.seconds)
            try:
                self._route(method, path)
            except OSError:  # the client closed the connection: nobody reads the answer
                pass
            finally:
                fault.done.set()
            return None
        if fault is not None and fault.kind == "after":
            self._route(method, path, swallow=True)
            return self._error(fault.status, f"injected fault {fault.status} after the request took effect")
        self._route(method, path)

    def _route(self, method: str, path: str, swallow: bool = False) -> None:
        for route_method, pattern, handler in ROUTES:
            match = re.fullmatch(pattern, path)
            if route_method == method and match:
                return self._swallow(handler, match.groupdict()) if swallow else handler(self, **match.groupdict())
        self._error(404, f"no route for {method} {path}")

    def _swallow(self, handler: Any, kwargs: dict[str, Any]) -> None:
        """Run a route, throwing its answer away."""
        real, self.wfile = self.wfile, __import__("io").BytesIO()
        try:
            handler(self, **kwargs)
        finally:
            self.wfile = real

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ---------------------------------------------------------------- routes

    def _repo(self, repo: str, write: bool = False) -> Repo | None:
        found = self.state.repos.get(repo)
        if (write or (found and found.private)) and not self._authorized():
            self._error(401, "Invalid credentials in Authorization header")
            return None
        if found is None:
            self._error(404, f"Repository not found: {repo}", code="RepoNotFound")
        return found

    def create_repo(self) -> None:
        if not self._authorized():
            return self._error(401, "Invalid credentials in Authorization header")
        payload = json.loads(self._body())
        repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
        url = f"{self.base_url}/{repo_id}"
        if repo_id in self.state.repos:
            return self._json(409, {"error": "You already created this model repo", "url": url})
        repo = self.state.repos[repo_id] = Repo(private=payload.get("visibility", "private") == "private")
        repo.append(INITIAL_COMMIT, "", {".gitattributes": StoredFile(GITATTRIBUTES, lfs=False)})
        self._json(200, {"url": url, "name": repo_id})

    def validate_yaml(self) -> None:
        """Like the Hub: the README's YAML front matter must parse, and model-index needs name + results."""
        import yaml

        content = json.loads(self._body())["content"]
        front = content.split("---")[1] if content.startswith("---") else ""
        try:
            metadata = yaml.safe_load(front) or {}
        except yaml.YAMLError as exc:
            return self._error(400, f"README.md metadata is not valid YAML: {exc}")
        for entry in metadata.get("model-index", []):
            if "name" not in entry or not entry.get("results"):
                return self._error(400, "model-index entries need a name and results")
        self._json(200, {"errors": [], "warnings": []})

    def preupload(self, repo: str, revision: str) -> None:
        if self._repo(repo, write=True) is None:
            return
        files = json.loads(self._body())["files"]
        current = self.state.repos[repo].files

        def oid(path: str, lfs: bool) -> str | None:
            stored = current.get(path)
            return None if stored is None else (stored.sha256 if lfs else git_blob_sha(stored.content))

        self._json(200, {"files": [
            {"path": f["path"], "uploadMode": mode, "shouldIgnore": False, "oid": oid(f["path"], mode == "lfs")}
            for f in files
            for mode in ["lfs" if f["path"].endswith(LFS_SUFFIXES) else "regular"]
        ]})

    def lfs_batch(self, repo: str) -> None:
        if self._repo(repo, write=True) is None:
            return
        objects = []
        for obj in json.loads(self._body())["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self.state.lfs_blobs:
                entry["actions"] = {"upload": {"href": f"{self.base_url}/lfs-upload/{obj['oid']}", "header": {}}}
            objects.append(entry)
        self._send(200, json.dumps({"transfer": "basic", "objects": objects}).encode(),
                   {"Content-Type": "application/vnd.git-lfs+json"})

    def lfs_upload(self, oid: str) -> None:
        content = self._body()
        if hashlib.sha256(content).hexdigest() != oid:
            return self._error(400, "sha256 of the uploaded content does not match the oid")
        self.state.lfs_blobs[oid] = content
        self._send(200)

    def commit(self, repo: str, revision: str) -> None:
        target = self._repo(repo, write=True)
        if target is None:
            return
        staged = dict(target.files)
        summary = description = ""
        for line in self._body().splitlines():
            item = json.loads(line)
            value = item["value"]
            if item["key"] == "header":
                summary, description = value.get("summary", ""), value.get("description", "")
                parent = value.get("parentCommit")
                if parent and parent != target.head:
                    return self._error(412, "A commit has happened since. Please refresh and try again.")
            elif item["key"] == "file":
                staged[value["path"]] = StoredFile(base64.b64decode(value["content"]), lfs=False)
            elif item["key"] == "lfsFile":
                blob = self.state.lfs_blobs.get(value["oid"])
                if blob is None:
                    return self._error(400, f"LFS object {value['oid']} was never uploaded")
                staged[value["path"]] = StoredFile(blob, lfs=True)
            elif item["key"] == "deletedFile":
                staged.pop(value["path"], None)
        oid = target.append(summary, description, staged)
        self._json(200, {"success": True, "commitOid": oid, "commitUrl": f"{self.base_url}/{repo}/commit/{oid}"})

    def _commit_at(self, repo: str, revision: str | None) -> Commit | None:
        target = self._repo(repo)
        if target is None:
            return None
        commit = target.at(revision or "main")
        if commit is None:
            self._send(404, json.dumps({"error": f"Invalid rev id: {revision}"}).encode(),
                       {"X-Error-Code": "RevisionNotFound", "Content-Type": "application/json"},
                       head=self.command == "HEAD")
        return commit

    def refs(self, repo: str) -> None:
        target = self._repo(repo)
        if target is None:
            return
        self._json(200, {
            "branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": target.head}] if target.commits else [],
            "converts": [],
            "tags": [{"name": tag, "ref": f"refs/tags/{tag}", "targetCommit": oid} for tag, oid in target.tags.items()],
        })

    def create_tag(self, repo: str, revision: str) -> None:
        target = self._repo(repo, write=True)
        if target is None:
            return
        tag = json.loads(self._body())["tag"]
        commit = target.at(revision)
        if commit is None:
            return self._error(404, f"Invalid rev id: {revision}")
        if tag in target.tags:
            return self._error(409, f"Tag {tag} already exists")
        target.tags[tag] = commit.oid
        self._json(200, {"name": tag, "ref": f"refs/tags/{tag}", "targetCommit": commit.oid})

    def delete_tag(self, repo: str, tag: str) -> None:
        target = self._repo(repo, write=True)
        if target is None:
            return
        if target.tags.pop(tag, None) is None:
            return self._error(404, f"Tag {tag} not found")
        self._json(200, {})

    def commits(self, repo: str, revision: str) -> None:
        commit = self._commit_at(repo, revision)
        if commit is None:
            return
        history = self.state.repos[repo].commits
        upto = history[: history.index(commit) + 1]
        self._json(200, [
            {"id": c.oid, "authors": [{"user": "loopback"}], "date": c.date, "title": c.title, "message": c.message}
            for c in reversed(upto)
        ])

    def tree(self, repo: str, revision: str, path: str | None = None) -> None:
        commit = self._commit_at(repo, revision)
        if commit is None:
            return
        entries = []
        for name, stored in sorted(commit.files.items()):
            entry: dict[str, Any] = {"type": "file", "path": name, "size": len(stored.content),
                                     "oid": git_blob_sha(stored.content)}
            if stored.lfs:
                entry["lfs"] = {"oid": stored.sha256, "size": len(stored.content), "pointerSize": 134}
            entries.append(entry)
        self._json(200, entries)

    def model_info(self, repo: str, revision: str | None = None) -> None:
        target = self._repo(repo)
        if target is None:
            return
        commit = target.at(revision or "main")
        if revision and commit is None:
            return self._send(404, json.dumps({"error": f"Invalid rev id: {revision}"}).encode(),
                              {"X-Error-Code": "RevisionNotFound", "Content-Type": "application/json"})
        files = commit.files if commit else {}
        self._json(200, {"id": repo, "modelId": repo, "sha": commit.oid if commit else None, "private": target.private,
                         "siblings": [{"rfilename": name} for name in sorted(files)]})

    def resolve(self, repo: str, revision: str, path: str) -> None:
        commit = self._commit_at(repo, revision)
        if commit is None:
            return
        stored = commit.files.get(path)
        if stored is None:
            return self._send(404, headers={"X-Error-Code": "EntryNotFound"}, head=self.command == "HEAD")
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{git_blob_sha(stored.content)}"'}
        if stored.lfs:
            headers.update({"X-Linked-Etag": f'"{stored.sha256}"', "X-Linked-Size": str(len(stored.content))})
        self._send(200, stored.content, headers, head=self.command == "HEAD")


ROUTES = [
    ("POST", r"/api/repos/create", HubHandler.create_repo),
    ("POST", r"/api/validate-yaml", HubHandler.validate_yaml),
    ("POST", rf"/api/models/{REPO}/preupload/(?P<revision>[^/]+)", HubHandler.preupload),
    ("POST", rf"/{REPO}\.git/info/lfs/objects/batch", HubHandler.lfs_batch),
    ("PUT", r"/lfs-upload/(?P<oid>[0-9a-f]{64})", HubHandler.lfs_upload),
    ("POST", rf"/api/models/{REPO}/commit/(?P<revision>[^/]+)", HubHandler.commit),
    ("GET", rf"/api/models/{REPO}/tree/(?P<revision>[^/]+)(?:/(?P<path>.*))?", HubHandler.tree),
    ("GET", rf"/api/models/{REPO}/refs", HubHandler.refs),
    ("POST", rf"/api/models/{REPO}/tag/(?P<revision>[^/]+)", HubHandler.create_tag),
    ("DELETE", rf"/api/models/{REPO}/tag/(?P<tag>[^/]+)", HubHandler.delete_tag),
    ("GET", rf"/api/models/{REPO}/commits/(?P<revision>[^/]+)", HubHandler.commits),
    ("GET", rf"/api/models/{REPO}(?:/revision/(?P<revision>[^/]+))?", HubHandler.model_info),
    # a dataset's info as a data trigger reads it (its revision's commit): served from the same repos
    ("GET", rf"/api/datasets/{REPO}(?:/revision/(?P<revision>[^/]+))?", HubHandler.model_info),
    ("GET", rf"/{REPO}/resolve/(?P<revision>[^/]+)/(?P<path>.+)", HubHandler.resolve),
    ("HEAD", rf"/{REPO}/resolve/(?P<revision>[^/]+)/(?P<path>.+)", HubHandler.resolve),
]


class LoopbackHub:
    """Runs the server on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(self, token: str = "hf_loopback_test_token") -> None:
        self.state = HubState(token)
        handler = type("BoundHubHandler", (HubHandler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        handler.base_url = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LoopbackHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
