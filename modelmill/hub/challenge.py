"""Challenge the published model: score it on the same test split as the new one and decide who stays."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from huggingface_hub import HfApi

from modelmill.config import EvaluateSpec, TokenizerSpec
from modelmill.evaluation.extra_sets import read_evaluation_set
from modelmill.evaluation.scoring import compute_metrics, per_class_metrics, predict
from modelmill.hub.champion import Champion, fetch_champion
from modelmill.hub.head import HubHead
from modelmill.hub.promotion import Promotion, decide, set_rows
from modelmill.manifests import DataManifest, ModelManifest
from modelmill.storage.home import local_copy
from modelmill.task_types import task_type
from modelmill.training.adapters import adopt_base, base_identity
from modelmill.training.tokenizing import tokenize_splits

OFFLINE = "not compared: HF_HUB_OFFLINE is set, the published model is unread"


def champion_scores(
    folder: Path, names: list[str], data: DataManifest, labels: list[str], spec: EvaluateSpec, max_length: int
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """A classifier's (the champion's, in `folder`, its labels `names`) metrics on the raw test split and on each
    extra set, tokenized with its own tokenizer, in this run's label ids."""
    import datasets
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    by_name = {name: index for index, name in enumerate(labels)}

    def scores(rows: datasets.Dataset) -> dict[str, float]:
        predicted, references = predict(folder, tokenize_splits(rows, tokenizer, data, max_length), spec.batch_size)
        predictions = np.array([by_name[names[i]] for i in predicted])  # champion ids -> ours, by name
        return {
            **compute_metrics(spec.metrics, predictions, references, spec.average, len(labels),
                              spec.trust_remote_code),
            **per_class_metrics(predictions, references, labels),
        }

    test = scores(datasets.load_from_disk(str(local_copy(data.path)))["test"])
    return test, {name: scores(read_evaluation_set(name, extra, data)) for name, extra in sorted(spec.sets.items())}


def other_base(spec: EvaluateSpec, champion: Champion, head: HubHead, model: ModelManifest | None
               ) -> Promotion | None:
    """The decision when the published adapter adapts another base than the new model's (None: the same base)."""
    assert spec.promote is not None
    ours = base_identity(model.started_from, model.seed) \
        if model is not None and model.started_from is not None else None
    if champion.adapts == ours:
        return None
    return incomparable(spec, champion, head, f"the published model is an adapter of another base model (base "
                                              f"{champion.adapts}, this one's {ours})")


def incomparable(spec: EvaluateSpec, champion: Champion, head: HubHead, why: str) -> Promotion:
    """The decision when the champion cannot be scored as the new model is (`why`): as
    evaluate.promote.on_label_change says."""
    assert spec.promote is not None
    allowed = spec.promote.on_label_change == "promote"
    return Promotion(
        promoted=allowed, champion_revision=champion.revision, head=head,
        reason=f"{why}: they cannot be " + ("compared; promoted as evaluate.promote.on_label_change says" if allowed
                                            else "compared; set evaluate.promote.on_label_change: promote to "
                                            "replace it"),
    )


def challenge(
    spec: EvaluateSpec, api: HfApi | None, head: HubHead | None, labels: list[str], challenger: dict[str, float],
    data: DataManifest, tokenizer: TokenizerSpec, challenger_sets: dict[str, dict[str, float]] | None = None,
    model: ModelManifest | None = None,
) -> Promotion:
    """Promotion of the new model (`challenger` holds its averaged and per-class metrics, `challenger_sets` those
    of each extra set) over the model at `head` (None: offline, nothing compared), which is scored on the test
    split and every extra set. The decision records `head`: a release commits on it or decides again.

    A published adapter is scored on this run's own base (`model`'s), and only when it adapts the same weights; an
    adapter of another base is refused as a label change is."""
    assert spec.promote is not None
    if head is None or api is None:
        return Promotion(promoted=True, reason=OFFLINE)
    with tempfile.TemporaryDirectory(prefix="modelmill-champion-") as scratch:
        champion = fetch_champion(api, head, Path(scratch))
        if champion is None:
            return Promotion(promoted=True, reason=f"no model is published at {head.repo_id} yet", head=head)
        if labels and sorted(champion.labels) != sorted(labels):  # a task type with classes (or tags)
            return incomparable(spec, champion, head,
                                f"the published model has labels {champion.labels}, this one {labels}")
        if champion.adapts is not None:
            if (refused := other_base(spec, champion, head, model)) is not None:
                return refused
            assert model is not None and model.started_from is not None
            adopt_base(champion.folder, model.started_from, model.seed)
        scores, sets = task_type(data.task).score_published(champion.folder, champion.labels, data, labels, spec,
                                                            tokenizer)
    rows = set_rows(spec, challenger_sets or {}, sets)
    return decide(spec.promote, challenger, scores, champion.revision, rows).model_copy(update={"head": head})
