"""The head of `main` on a Hub repo: what a release decision compares against, and what a release commits on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from huggingface_hub import HfApi

MODEL_FILES = ("config.json", "adapter_config.json")  # a head without one holds no model (an empty repo, or its
# initial commit)


class HubHead(BaseModel):
    """`main` of `repo_id` when it was read: its commit, whether it holds a model, and its commit message."""

    model_config = ConfigDict(frozen=True)

    repo_id: str
    oid: str | None = None
    has_model: bool = False
    message: str = ""

    @property
    def champion(self) -> str | None:
        """The commit of the published model, or None when nothing is published."""
        return self.oid if self.has_model else None

    def moved_from(self, before: HubHead) -> bool:
        """True when the published model is no longer the one `before` saw (another release, a rollback)."""
        return self.champion != before.champion

    def describe(self) -> str:
        return f"commit {self.oid[:8]}" if self.champion else "no published model"


def read_head(api: HfApi, repo_id: str) -> HubHead:
    """`main` of `repo_id` now (no repo, or no commit: an empty head). Errors are the client's: wrap the call in
    `hub_errors`."""
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        commits = api.list_repo_commits(repo_id, revision="main")
    except (RepositoryNotFoundError, RevisionNotFoundError):
        return HubHead(repo_id=repo_id)
    if not commits:
        return HubHead(repo_id=repo_id)
    head = commits[0]
    files = set(api.list_repo_files(repo_id, revision=head.commit_id))
    return HubHead(repo_id=repo_id, oid=head.commit_id, has_model=any(name in files for name in MODEL_FILES),
                   message="\n".join(filter(None, [head.title, head.message])))
