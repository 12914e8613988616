"""The champion: the model published on `main` of the pipeline's Hub repo, downloaded at the exact head that a
release decision names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi

from modelmill.hub.errors import hub_errors
from modelmill.hub.head import HubHead


@dataclass(frozen=True)
class Champion:
    folder: Path
    revision: str
    labels: list[str]


def fetch_champion(api: HfApi, head: HubHead, folder: Path) -> Champion | None:
    """Download the model at `head` into `folder`; None when the head holds no model."""
    from transformers import AutoConfig

    if head.champion is None:
        return None
    with hub_errors(api.endpoint, head.repo_id, api.token):
        api.snapshot_download(head.repo_id, revision=head.champion, local_dir=folder)
    config = AutoConfig.from_pretrained(str(folder))
    labels = [str(config.id2label[i]) for i in range(config.num_labels)]
    return Champion(folder=folder, revision=head.champion, labels=labels)
