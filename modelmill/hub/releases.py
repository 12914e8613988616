"""Versioned releases on a Hub repo: one commit plus a `vN` tag per promotion, safe to retry.

Every step checks the repo first, so a retry after a lost response never makes a second commit or tag: the
head commit carries the release id of its content; identical content makes no commit (the Hub client skips
files whose oid the server already has) and no new tag.
"""

from __future__ import annotations

import re
import shutil
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


def hub_refusal(error: HfHubHTTPError, repo_id: str, endpoint: str) -> Exception:
    """What to raise for a Hub error: itself when transient (the task retries it), else a PushRejected that says
    what to check (401/403/404 never retry)."""
    status = error.response.status_code if error.response is not None else None
    if status in TRANSIENT_STATUS:
        return error
    return PushRejected(
        f"{endpoint} refused '{repo_id}' (HTTP {status}): check that the token can write to this repo "
        "(HF_TOKEN or push.token_secret_block) and that push.repo_id and push.endpoint are right"
    )


def version_tags(api: HfApi, repo_id: str) -> dict[str, str]:
    """`vN` tag -> commit oid, for the repo's release tags."""
    refs = api.list_repo_refs(repo_id)
    return {ref.name: ref.target_commit for ref in refs.tags if TAG.match(ref.name)}


def version_number(tag: str) -> int:
    """`v12` -> 12 (for tags `version_tags` returned)."""
    return int(TAG.match(tag).group(1))  # type: ignore[union-attr]


def next_version(tags: dict[str, str]) -> str:
    return f"v{max(map(version_number, tags), default=0) + 1}"


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
        ours_at_head = before is not None and f"{MARKER}{release_id}" in before[1]
        if ours_at_head:
            oid = before[0]  # this content is the head already: released before, or a commit whose answer was lost
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
        raise hub_refusal(error, repo_id, endpoint) from None
    # an untagged head carrying our release id is the commit of this release whose answer was lost
    return Release(oid, f"{endpoint}/{repo_id}/commit/{oid}", tag, new_commit or ours_at_head, True)


@dataclass(frozen=True)
class ReleaseInfo:
    """A release tag as `modelmill releases` lists it."""

    tag: str
    commit_oid: str
    date: str
    metrics: dict[str, float]
    is_head: bool


def release_metrics(api: HfApi, repo_id: str, revision: str) -> dict[str, float]:
    """The model-index metrics of the card at `revision` (empty when it has none)."""
    from huggingface_hub import ModelCard
    from huggingface_hub.errors import EntryNotFoundError

    try:
        card_path = api.hf_hub_download(repo_id, "README.md", revision=revision)
    except EntryNotFoundError:
        return {}
    card = ModelCard(Path(card_path).read_text(encoding="utf-8"))
    return {result.metric_type: float(result.metric_value) for result in card.data.eval_results or []}


def list_releases(api: HfApi, repo_id: str) -> list[ReleaseInfo]:
    """Every `vN` tag, newest first, with its commit date and headline metrics."""
    tags = version_tags(api, repo_id)
    if not tags:
        return []
    history = api.list_repo_commits(repo_id, revision="main")  # one listing dates every release on main
    dates = {commit.commit_id: commit.created_at for commit in history}
    releases = []
    for tag in sorted(tags, key=version_number, reverse=True):
        oid = tags[tag]
        date = dates.get(oid) or api.list_repo_commits(repo_id, revision=oid)[0].created_at  # a tag off main
        releases.append(ReleaseInfo(tag, oid, date.strftime("%Y-%m-%d %H:%M UTC"), release_metrics(api, repo_id, oid),
                                    is_head=history[0].commit_id == oid))
    return releases


def rollback(api: HfApi, repo_id: str, tag: str, scratch: Path) -> str:
    """Commit the files of release `tag` as the new head, with a note in its card; returns the commit url."""
    tags = version_tags(api, repo_id)
    if tag not in tags:
        raise PushRejected(f"{repo_id} has no release '{tag}'; its releases: {', '.join(sorted(tags)) or 'none'}")
    folder = Path(api.snapshot_download(repo_id, revision=tags[tag], local_dir=scratch))
    card = folder / "README.md"
    if card.is_file():
        text = card.read_text(encoding="utf-8")
        front, sep, body = text.partition("\n---\n") if text.startswith("---") else ("", "", text)
        note = f"> **Rolled back to {tag}** (commit `{tags[tag][:8]}`): this head republishes that release's files.\n\n"
        card.write_text(f"{front}{sep}{note}{body}", encoding="utf-8")
    shutil.rmtree(folder / ".cache", ignore_errors=True)  # the download's own bookkeeping
    info = api.upload_folder(folder_path=folder, repo_id=repo_id, commit_message=f"Roll back to {tag}")
    return info.commit_url
