"""The champion: the model published on `main` of the pipeline's Hub repo, downloaded at the exact head that a
release decision names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi

from modelmill.hub.errors import hub_errors
from modelmill.hub.head import HubHead
from modelmill.training.adapters import is_adapter, read_record


@dataclass(frozen=True)
class Champion:
    folder: Path
    revision: str
    labels: list[str]
    adapts: str | None = None  # an adapter: the identity of the base it adapts (training.adapters.base_identity)


def fetch_champion(api: HfApi, head: HubHead, folder: Path) -> Champion | None:
    """Download the model at `head` into `folder`; None when the head holds no model."""
    from transformers import AutoConfig

    if head.champion is None:
        return None
    with hub_errors(api.endpoint, head.repo_id, api.token):
        api.snapshot_download(head.repo_id, revision=head.champion, local_dir=folder)
    if is_adapter(folder):
        record = read_record(folder)
        return Champion(folder=folder, revision=head.champion, labels=[str(label) for label in record["labels"]],
                        adapts=str(record.get("identity")))
    config = AutoConfig.from_pretrained(str(folder))
    labels = [str(config.id2label[i]) for i in range(config.num_labels)]
    return Champion(folder=folder, revision=head.champion, labels=labels)
