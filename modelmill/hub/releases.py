"""Versioned releases on a Hub repo: one commit plus a `vN` tag per promotion, safe to retry.

Every step checks the repo first, so a retry after a lost response never makes a second commit or tag: the
head commit carries the release id of its content; identical content makes no commit (the Hub client skips
files whose oid the server already has) and no new tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

from modelmill.errors import PushRejected
from modelmill.retry import TRANSIENT_STATUS

TAG = re.compile(r"^v(\d+)$")
MARKER = "modelmill-release: "


@dataclass(frozen=True)
class Release:
    """What a publish did: the head commit, its tag, and whether anything new was made."""

    commit_oid: str
    commit_url: str
    tag: str | None
    new_commit: bool
    new_tag: bool


def refuse_permanent(error: HfHubHTTPError, spec_repo: str, endpoint: str) -> None:
    """401/403/404 and other non-transient answers become a PushRejected that says what to check."""
    status = error.response.status_code if error.response is not None else None
    if status in TRANSIENT_STATUS:
        raise error
    raise PushRejected(
        f"{endpoint} refused '{spec_repo}' (HTTP {status}): check that the token can write to this repo "
        "(HF_TOKEN or push.token_secret_block) and that push.repo_id and push.endpoint are right"
    ) from None


def version_tags(api: HfApi, repo_id: str) -> dict[str, str]:
    """`vN` tag -> commit oid, for the repo's release tags."""
    refs = api.list_repo_refs(repo_id)
    return {ref.name: ref.target_commit for ref in refs.tags if TAG.match(ref.name)}


def next_version(tags: dict[str, str]) -> str:
    numbers = [int(TAG.match(name).group(1)) for name in tags]  # type: ignore[union-attr]
    return f"v{max(numbers, default=0) + 1}"


def head_commit(api: HfApi, repo_id: str) -> tuple[str, str] | None:
    """(oid, message) of `main`'s head, or None for an empty repo."""
    try:
        commits = api.list_repo_commits(repo_id, revision="main")
    except (RevisionNotFoundError, RepositoryNotFoundError):
        return None
    return (commits[0].commit_id, commits[0].message or "") if commits else None


def publish_release(
    api: HfApi, repo_id: str, folder: Path, release_id: str, title: str, private: bool
) -> Release:
    """Make `folder` the head of `repo_id` in one commit, tagged with the next `vN`; idempotent."""
    endpoint = api.endpoint
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        before = head_commit(api, repo_id)
        new_commit = False
        if before is not None and f"{MARKER}{release_id}" in before[1]:
            oid = before[0]  # a retry: the commit landed, its answer was lost
        else:
            info = api.upload_folder(
                folder_path=folder, repo_id=repo_id, commit_message=title,
                commit_description=f"{MARKER}{release_id}",
            )
            oid = info.oid
            new_commit = before is None or oid != before[0]
        tags = version_tags(api, repo_id)
        existing = next((tag for tag, target in tags.items() if target == oid), None)
        if existing:  # identical content already released, or a retry whose tag answer was lost
            return Release(oid, f"{endpoint}/{repo_id}/commit/{oid}", existing, new_commit, False)
        tag = next_version(tags)
        api.create_tag(repo_id, tag=tag, revision=oid, tag_message=title)
    except HfHubHTTPError as error:
        refuse_permanent(error, repo_id, endpoint)
        raise
    return Release(oid, f"{endpoint}/{repo_id}/commit/{oid}", tag, new_commit, True)
