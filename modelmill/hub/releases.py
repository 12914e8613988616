"""Versioned releases on a Hub repo: one commit plus a `vN` tag per promotion, safe to retry and to race.

A release commits on the head it was decided against (`parent_commit`): if `main` moved in between (another
publisher, a rollback, a commit applied late after a timeout), the Hub refuses the commit and the release is
decided again. Every step checks the repo first, so a retry after a lost answer never makes a second commit or tag:
a commit carries the release id of its content and the run that made it.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi

from modelmill.hub.errors import HeadMoved, hub_errors
from modelmill.hub.head import HubHead, read_head
from modelmill.runtime.errors import PushRejected

TAG = re.compile(r"^v(\d+)$")
MARKER = "modelmill-release: "
RUN_MARKER = "modelmill-run: "
ROLLBACK_MARKER = "modelmill-rollback-to: "
TAG_ATTEMPTS = 3  # another publisher may take the next vN between our listing and our tag


@dataclass(frozen=True)
class Release:
    """What a publish found and did: the head commit and its tag, and which of them this run made."""

    commit_oid: str
    commit_url: str
    tag: str
    made_commit: bool
    made_tag: bool
    superseded_by: str = ""  # the newer release main serves, when this model was released before and not again

    def describe(self, repo_id: str) -> str:
        """One line that says what this run did, not just what the Hub holds."""
        if self.superseded_by:
            return (f"{repo_id} released this exact model as {self.tag} before; main now serves {self.superseded_by}, "
                    "a later release: not published again (that would roll main back without a comparison; "
                    f"`modelmill rollback <pipeline> {self.tag}` does it on purpose, evaluate.promote compares)")
        if self.made_commit:
            return f"released {repo_id} {self.tag}: {self.commit_url}"
        if self.made_tag:
            return f"tagged {self.tag} on the identical commit already at the head of {repo_id} (no new commit)"
        return f"{repo_id} already holds this exact model as {self.tag}: no commit, no tag"


def version_tags(api: HfApi, repo_id: str) -> dict[str, str]:
    """`vN` tag -> commit oid, for the repo's release tags."""
    refs = api.list_repo_refs(repo_id)
    return {ref.name: ref.target_commit for ref in refs.tags if TAG.match(ref.name)}


def version_number(tag: str) -> int:
    """`v12` -> 12 (for tags `version_tags` returned)."""
    return int(TAG.match(tag).group(1))  # type: ignore[union-attr]


def next_version(tags: dict[str, str]) -> str:
    return f"v{max(map(version_number, tags), default=0) + 1}"


def _marker_value(message: str, marker: str) -> str | None:
    line = next((line for line in message.splitlines() if line.startswith(marker)), None)
    return line.removeprefix(marker).strip() if line is not None else None


def _tag(api: HfApi, repo_id: str, oid: str, title: str) -> tuple[str, bool]:
    """The `vN` tag of commit `oid`: the one it has, else the next free one (made now)."""
    from huggingface_hub.errors import HfHubHTTPError

    for _ in range(TAG_ATTEMPTS):
        tags = version_tags(api, repo_id)
        existing = next((tag for tag, target in tags.items() if target == oid), None)
        if existing:
            return existing, False
        tag = next_version(tags)
        try:
            api.create_tag(repo_id, tag=tag, revision=oid, tag_message=title)
            return tag, True
        except HfHubHTTPError as error:
            if getattr(error.response, "status_code", None) != 409:  # 409: that vN was taken meanwhile
                raise
    raise PushRejected(f"{repo_id}: could not take a free version tag in {TAG_ATTEMPTS} attempts")


def earlier_release(api: HfApi, repo_id: str, release_id: str) -> tuple[str, str, str] | None:
    """(tag, commit) of an earlier release of the content `release_id` on main, and what main serves now; None
    when this content was never released there."""
    history = api.list_repo_commits(repo_id, revision="main")
    released = next((commit.commit_id for commit in history
                     if _marker_value("\n".join(filter(None, [commit.title, commit.message])), MARKER) == release_id),
                    None)
    tags = version_tags(api, repo_id)
    tag = next((tag for tag, oid in tags.items() if oid == released), None)
    if released is None or tag is None:
        return None
    serving, _ = head_release(history, tags)
    return tag, released, serving or f"commit {history[0].commit_id[:8]}"


def publish_release(
    api: HfApi, repo_id: str, folder: Path, release_id: str, title: str, private: bool,
    decided_on: HubHead | None = None, run_id: str = "", compared: bool = False,
) -> Release:
    """Make `folder` the head of `repo_id` in one commit on the head `decided_on` saw, tagged with the next `vN`.

    A model released before that a later release replaced is not published again unless it was `compared` with
    the published one (evaluate.promote): re-running an old configuration must not roll main back unasked.

    Raises HeadMoved when the published model is no longer the one `decided_on` saw (the decision is stale), or
    when `main` moves between reading it and committing (the Hub refuses the commit's parent).
    """
    with hub_errors(api.endpoint, repo_id, api.token):
        api.create_repo(repo_id, private=private, exist_ok=True)
        head = read_head(api, repo_id)
        ours = _marker_value(head.message, MARKER) == release_id
        if not ours and not compared and head.oid and (earlier := earlier_release(api, repo_id, release_id)):
            tag, oid, serving = earlier
            return Release(oid, f"{api.endpoint}/{repo_id}/commit/{oid}", tag, False, False, superseded_by=serving)
        if ours:  # this content is the head: released before, or this run's commit whose answer was lost
            oid = head.oid
            made_commit = bool(run_id) and _marker_value(head.message, RUN_MARKER) == run_id
        else:
            if decided_on is not None and head.moved_from(decided_on):
                raise HeadMoved(
                    f"{repo_id}: main now holds {head.describe()}, the release was decided against "
                    f"{decided_on.describe()}: deciding again"
                )
            info = api.upload_folder(
                folder_path=folder, repo_id=repo_id, commit_message=title, parent_commit=head.oid,
                commit_description=f"{MARKER}{release_id}\n{RUN_MARKER}{run_id}",
            )
            oid, made_commit = info.oid, info.oid != head.oid
        assert oid is not None
        tag, made_tag = _tag(api, repo_id, oid, title)
    return Release(oid, f"{api.endpoint}/{repo_id}/commit/{oid}", tag, made_commit, made_tag or made_commit)


@dataclass(frozen=True)
class ReleaseInfo:
    """A release tag as `modelmill releases` lists it."""

    tag: str
    commit_oid: str
    date: str
    metrics: dict[str, float]
    head: str = ""  # "head", or "head (rolled back, commit abcd1234)" for the release main serves now


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


def head_release(history: list, tags: dict[str, str]) -> tuple[str | None, str]:
    """Which release `main` serves: the tag of its head commit, or the release a rollback at the head names."""
    if not history:
        return None, ""
    head = history[0]
    by_commit = {oid: tag for tag, oid in tags.items()}
    if head.commit_id in by_commit:
        return by_commit[head.commit_id], "head"
    rolled_back = _marker_value("\n".join(filter(None, [head.title, head.message])), ROLLBACK_MARKER)
    if rolled_back in tags:
        return rolled_back, f"head (rolled back, commit {head.commit_id[:8]})"
    return None, ""


def list_releases(api: HfApi, repo_id: str) -> list[ReleaseInfo]:
    """Every `vN` tag, newest first, with its commit date and headline metrics; the one main serves is marked."""
    with hub_errors(api.endpoint, repo_id, api.token):
        tags = version_tags(api, repo_id)
        if not tags:
            return []
        history = api.list_repo_commits(repo_id, revision="main")  # one listing dates every release on main
        dates = {commit.commit_id: commit.created_at for commit in history}
        served, note = head_release(history, tags)
        releases = []
        for tag in sorted(tags, key=version_number, reverse=True):
            oid = tags[tag]
            date = dates.get(oid) or api.list_repo_commits(repo_id, revision=oid)[0].created_at  # a tag off main
            releases.append(ReleaseInfo(tag, oid, date.strftime("%Y-%m-%d %H:%M UTC"),
                                        release_metrics(api, repo_id, oid), note if tag == served else ""))
    return releases


def rollback(api: HfApi, repo_id: str, tag: str, scratch: Path) -> str:
    """Commit the files of release `tag` as the new head, with a note in its card; returns the commit url.
    The commit names the head it replaces: a release landing meanwhile makes it fail instead of being undone."""
    with hub_errors(api.endpoint, repo_id, api.token):
        tags = version_tags(api, repo_id)
        if tag not in tags:
            raise PushRejected(f"{repo_id} has no release '{tag}'; its releases: {', '.join(sorted(tags)) or 'none'}")
        head = read_head(api, repo_id)
        folder = Path(api.snapshot_download(repo_id, revision=tags[tag], local_dir=scratch))
        card = folder / "README.md"
        if card.is_file():
            text = card.read_text(encoding="utf-8")
            front, sep, body = text.partition("\n---\n") if text.startswith("---") else ("", "", text)
            note = (f"> **Rolled back to {tag}** (commit `{tags[tag][:8]}`): this head republishes that release's "
                    "files.\n\n")
            card.write_text(f"{front}{sep}{note}{body}", encoding="utf-8")
        shutil.rmtree(folder / ".cache", ignore_errors=True)  # the download's own bookkeeping
        info = api.upload_folder(folder_path=folder, repo_id=repo_id, commit_message=f"Roll back to {tag}",
                                 commit_description=f"{ROLLBACK_MARKER}{tag}", parent_commit=head.oid)
    return info.commit_url
