"""Scoring a published model (the champion) as a task type scores its own model: the raw test split tokenized with
the published model's own tokenizer and the pipeline's tokenizer settings, then the task type's `score`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelmill.config import EvaluateSpec, TokenizerSpec
    from modelmill.manifests import DataManifest


def published_scores(kind: Any, folder: Path, names: list[str], data: DataManifest, labels: list[str],
                     spec: EvaluateSpec, tokenizer: TokenizerSpec) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The model in `folder` (its labels: `names`) scored on the test split: averaged and per-class metrics, and
    per extra set (none: the task types that score this way have no extra sets)."""
    import datasets
    from transformers import AutoTokenizer

    from modelmill.storage.home import local_copy

    raw = datasets.load_from_disk(str(local_copy(data.path)))["test"]
    theirs = AutoTokenizer.from_pretrained(str(folder))
    test = kind.tokenize(datasets.DatasetDict({"test": raw}), theirs, data, tokenizer)["test"]
    scored = kind.score(folder, names, test, data, spec, labels)
    return {**scored.metrics, **scored.per_class}, {}
