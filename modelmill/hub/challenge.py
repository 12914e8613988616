"""Challenge the published model: score it on the same test split as the new one and decide who stays."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from huggingface_hub import HfApi

from modelmill.config import EvaluateSpec
from modelmill.evaluation.scoring import compute_metrics, per_class_metrics, predict
from modelmill.hub.champion import Champion, fetch_champion
from modelmill.hub.head import HubHead
from modelmill.hub.promotion import Promotion, decide
from modelmill.manifests import DataManifest
from modelmill.storage.home import local_copy
from modelmill.training.tokenizing import tokenize_splits

if TYPE_CHECKING:
    pass

OFFLINE = "not compared: HF_HUB_OFFLINE is set, the published model is unread"


def champion_scores(
    champion: Champion, data: DataManifest, labels: list[str], spec: EvaluateSpec, max_length: int
) -> dict[str, float]:
    """The champion's metrics on the raw test split, tokenized with its own tokenizer, in this run's label ids."""
    import datasets
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(champion.folder))
    by_name = {name: index for index, name in enumerate(labels)}
    test = tokenize_splits(datasets.load_from_disk(str(local_copy(data.path)))["test"], tokenizer, data, max_length)
    predicted, references = predict(champion.folder, test, spec.batch_size)
    predictions = np.array([by_name[champion.labels[i]] for i in predicted])  # champion ids -> our ids, by name
    return {
        **compute_metrics(spec.metrics, predictions, references, spec.average, len(labels), spec.trust_remote_code),
        **per_class_metrics(predictions, references, labels),
    }


def challenge(
    spec: EvaluateSpec, api: HfApi | None, head: HubHead | None, labels: list[str], challenger: dict[str, float],
    data: DataManifest, max_length: int,
) -> Promotion:
    """Promotion of the new model (`challenger` holds its averaged and per-class metrics) over the model at `head`
    (None: offline, nothing compared). The decision records `head`: a release commits on it or decides again."""
    assert spec.promote is not None
    if head is None or api is None:
        return Promotion(promoted=True, reason=OFFLINE)
    with tempfile.TemporaryDirectory(prefix="modelmill-champion-") as scratch:
        champion = fetch_champion(api, head, Path(scratch))
        if champion is None:
            return Promotion(promoted=True, reason=f"no model is published at {head.repo_id} yet", head=head)
        if sorted(champion.labels) != sorted(labels):
            allowed = spec.promote.on_label_change == "promote"
            return Promotion(
                promoted=allowed, champion_revision=champion.revision, head=head,
                reason=f"the published model has labels {champion.labels}, this one {labels}: they cannot be "
                + ("compared; promoted as evaluate.promote.on_label_change says" if allowed
                   else "compared; set evaluate.promote.on_label_change: promote to replace it"),
            )
        scores = champion_scores(champion, data, labels, spec, max_length)
    return decide(spec.promote, challenger, scores, champion.revision).model_copy(update={"head": head})
