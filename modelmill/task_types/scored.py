"""The evaluations of the task types that score a model with their own `score` (token classification, question
answering, summarization, fill-mask): the new model on its test split with the gates, and a published model (the
champion) on the same raw rows made into inputs by its own tokenizer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelmill.config import EvaluateSpec, TokenizerSpec
    from modelmill.manifests import DataManifest, EvaluationReport, ModelManifest, TokenizedManifest


def scored_evaluation(kind: Any, model: ModelManifest, tokens: TokenizedManifest, data: DataManifest,
                      spec: EvaluateSpec, key: str, output: Path) -> EvaluationReport:
    """The tokenized test split scored by `kind.score`; the thresholds (and class thresholds, of the entity types
    or classes `kind` names); the training curve."""
    import datasets

    from modelmill.evaluation.figures import publish_training_curve
    from modelmill.evaluation.gates import check_classes, check_thresholds
    from modelmill.manifests import EvaluationReport
    from modelmill.storage.home import local_copy

    test = datasets.load_from_disk(str(local_copy(tokens.path)))["test"]
    scored = kind.score(local_copy(model.path), model.labels, test, data, spec, model.labels)
    checks = [*check_thresholds(scored.metrics, spec.thresholds),
              *check_classes(scored.per_class, spec.class_thresholds)]
    publish_training_curve(model, output)
    return EvaluationReport(key=key, metrics=scored.metrics, checks=checks, num_examples=scored.num_examples,
                            per_class=scored.per_class, labels=kind.class_names(model.labels),
                            support=scored.support, figures=output)


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
