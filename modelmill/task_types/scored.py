"""The evaluations of the task types that score a model with their own `score` (token classification, question
answering, summarization, fill-mask): the new model on its test split with the gates, beside the untuned model it
started from where that is a baseline, and a published model (the champion) on the same raw rows made into inputs by
its own tokenizer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datasets

    from modelmill.config import EvaluateSpec, TokenizerSpec
    from modelmill.manifests import BaselineScores, DataManifest, EvaluationReport, ModelManifest, TokenizedManifest

UNTUNED = "untuned"


def scored_evaluation(kind: Any, model: ModelManifest, tokens: TokenizedManifest, data: DataManifest,
                      spec: EvaluateSpec, key: str, output: Path) -> EvaluationReport:
    """The tokenized test split scored by `kind.score`; the thresholds (and class thresholds, of the entity types
    or classes `kind` names); the untuned model scored alike, which the fine-tune must beat on the first of
    `spec.metrics` (unless `baselines.must_beat` leaves it out); the training curve."""
    import datasets

    from modelmill.evaluation.figures import publish_training_curve
    from modelmill.evaluation.gates import check_classes, check_thresholds, check_untuned
    from modelmill.manifests import EvaluationReport
    from modelmill.storage.home import local_copy

    test = datasets.load_from_disk(str(local_copy(tokens.path)))["test"]
    scored = kind.score(local_copy(model.path), model.labels, test, data, spec, model.labels)
    baselines = [untuned_scores(kind, model, test, data, spec)] if UNTUNED in kind.baselines else []
    checks = [*check_thresholds(scored.metrics, spec.thresholds),
              *check_classes(scored.per_class, spec.class_thresholds),
              *(check_untuned(scored.metrics, baseline, spec.metrics[0]) for baseline in baselines
                if baseline.name in spec.baselines.must_beat)]
    publish_training_curve(model, output)
    return EvaluationReport(key=key, metrics=scored.metrics, checks=checks, num_examples=scored.num_examples,
                            per_class=scored.per_class, labels=kind.class_names(model.labels),
                            support=scored.support, baselines=baselines, figures=output, mistakes=scored.worst)


def untuned_scores(kind: Any, model: ModelManifest, test: datasets.Dataset, data: DataManifest, spec: EvaluateSpec
                   ) -> BaselineScores:
    """The model the fine-tune started from (its new weights drawn from the same seed), with the fine-tune's
    tokenizer, scored on `test` as the fine-tune is."""
    import tempfile

    from transformers import AutoTokenizer, set_seed

    from modelmill.manifests import BaselineScores
    from modelmill.storage.home import local_copy

    assert model.started_from is not None, "a trained model records the spec it started from"
    with tempfile.TemporaryDirectory(prefix="modelmill-untuned-") as scratch:
        set_seed(model.seed)
        kind.load_model(model.started_from, model.labels).save_pretrained(scratch)
        AutoTokenizer.from_pretrained(str(local_copy(model.path))).save_pretrained(scratch)
        scored = kind.score(Path(scratch), model.labels, test, data, spec, model.labels)
    fresh = " (new weights from its config)" if model.started_from.from_config else ""
    return BaselineScores(name=UNTUNED, description=f"{model.base_model}{fresh} before fine-tuning", scores=scored)


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
