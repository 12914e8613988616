"""The champion: the model currently published on `main` of the pipeline's Hub repo, downloaded to compare."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import snapshot_download
from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError
from pydantic import SecretStr

from modelmill.hub.client import hub_api
from modelmill.spec import PushSpec


@dataclass(frozen=True)
class Champion:
    folder: Path
    revision: str
    labels: list[str]


def fetch_champion(spec: PushSpec, token: SecretStr | None, folder: Path) -> Champion | None:
    """Download `main` of `spec.repo_id` into `folder`; None when nothing (or no model) is published there."""
    from transformers import AutoConfig

    api = hub_api(spec, token)
    try:
        info = api.model_info(spec.repo_id, revision="main")
    except (RepositoryNotFoundError, RevisionNotFoundError):
        return None
    files = {sibling.rfilename for sibling in info.siblings or []}
    if info.sha is None or "config.json" not in files:
        return None
    snapshot_download(
        spec.repo_id, revision=info.sha, endpoint=spec.endpoint, local_dir=folder,
        token=token.get_secret_value() if token else None,
    )
    config = AutoConfig.from_pretrained(str(folder))
    labels = [str(config.id2label[i]) for i in range(config.num_labels)]
    return Champion(folder=folder, revision=info.sha, labels=labels)
