"""The whole evaluation of a fine-tuned model, without Prefect: what the evaluate stage reports and gates on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from modelmill.config import SPLITS, EvaluateSpec
from modelmill.data.facts import column
from modelmill.evaluation.baselines import classical, majority
from modelmill.evaluation.cutoff import pick_cutoff
from modelmill.evaluation.extra_sets import read_evaluation_set
from modelmill.evaluation.figures import CONFUSION_MATRIX, TRAINING_CURVE, confusion_matrix_png, training_curve_png
from modelmill.evaluation.gates import (
    check_baselines,
    check_classes,
    check_slices,
    check_thresholds,
    fit_warnings,
    set_scope,
)
from modelmill.evaluation.scoring import Cutoff, labels_at, predict_probabilities, score
from modelmill.evaluation.slicing import slice_scores, slice_values
from modelmill.manifests import (
    BaselineScores,
    DataManifest,
    EvaluationReport,
    MetricCheck,
    Mistake,
    ModelManifest,
    Scores,
    SliceScores,
    TokenizedManifest,
)
from modelmill.storage.artifacts import atomic_dir
from modelmill.storage.home import local_copy

if TYPE_CHECKING:
    import datasets


class Scorer:
    """Predicts with one model (and its decision cut-off, once picked) and scores against the pipeline's labels."""

    def __init__(self, model: ModelManifest, spec: EvaluateSpec) -> None:
        self.model, self.spec, self.labels = model, spec, model.labels
        self.cutoff: Cutoff | None = None

    def probabilities(self, split: datasets.Dataset) -> tuple[np.ndarray, np.ndarray]:
        return predict_probabilities(local_copy(self.model.path), split, self.spec.batch_size)

    def scores(self, name: str, predictions: np.ndarray, references: np.ndarray) -> Scores:
        return score(name, self.spec.metrics, predictions, references, self.spec.average, self.labels,
                     self.spec.trust_remote_code)

    def predict_and_score(self, name: str, split: datasets.Dataset) -> Scores:
        probabilities, references = self.probabilities(split)
        return self.scores(name, labels_at(probabilities, self.cutoff), references)


MISTAKES_SHOWN = 5


def confident_mistakes(
    texts: list[str], probabilities: np.ndarray, predictions: np.ndarray, references: np.ndarray, labels: list[str],
    limit: int = MISTAKES_SHOWN,
) -> list[Mistake]:
    """The wrong predictions the model was surest of: where a reviewer looks first (label noise, blind spots)."""
    confidence = probabilities[np.arange(len(predictions)), predictions]
    wrong = np.flatnonzero(predictions != references)
    ranked = wrong[np.argsort(-confidence[wrong], kind="stable")][:limit]
    return [
        Mistake(row=int(i) + 1, text=texts[i], label=labels[references[i]], predicted=labels[predictions[i]],
                probability=float(confidence[i]))
        for i in ranked
    ]


def train_sample(size: int, limit: int, seed: int) -> list[int]:
    """A seeded, sorted sample of train row indices: the same rows for the same data and seed."""
    if size <= limit:
        return list(range(size))
    return sorted(np.random.default_rng(seed).choice(size, limit, replace=False).tolist())


def baseline_scores(
    scorer: Scorer, raw: datasets.DatasetDict, data: DataManifest, train_ids: np.ndarray, validation_ids: np.ndarray,
    test_ids: np.ndarray,
) -> list[BaselineScores]:
    """The majority class and TF-IDF + logistic regression, trained on train, scored on test."""
    texts = {split: column(raw[split], data.text_column) for split in SPLITS}
    always, label = majority(train_ids)
    tfidf, c = classical(texts["train"], train_ids, texts["validation"], validation_ids)
    return [
        BaselineScores(name="majority", description=f"always '{scorer.labels[label]}'",
                       scores=scorer.scores("majority", always(texts["test"]), test_ids)),
        BaselineScores(name="classical", description=f"TF-IDF 1-2 grams + logistic regression (C={c:g})",
                       scores=scorer.scores("classical", tfidf(texts["test"]), test_ids)),
    ]


def extra_set_scores(
    scorer: Scorer, spec: EvaluateSpec, data: DataManifest, max_length: int
) -> tuple[list[Scores], list[MetricCheck]]:
    """Each extra evaluation set, tokenized with the model's tokenizer and scored, with its own gates."""
    from transformers import AutoTokenizer

    from modelmill.training.tokenizing import tokenize_splits

    tokenizer = AutoTokenizer.from_pretrained(str(local_copy(scorer.model.path)))
    sets, checks = [], []
    for name, extra in spec.sets.items():
        rows = tokenize_splits(read_evaluation_set(name, extra, data), tokenizer, data, max_length)
        scores = scorer.predict_and_score(name, rows)
        sets.append(scores)
        checks += check_thresholds(scores.metrics, extra.thresholds, set_scope(name))
        checks += check_classes(scores.per_class, extra.class_thresholds, set_scope(name))
    return sets, checks


def scores_per_slice(
    scorer: Scorer, spec: EvaluateSpec, raw_test: datasets.Dataset, text_column: str, predictions: np.ndarray,
    references: np.ndarray,
) -> tuple[list[SliceScores], list[MetricCheck]]:
    """The test predictions scored per slice, with the slice minimums."""
    slices, checks = [], []
    for index, slicing in enumerate(spec.slices):
        values = slice_values(slicing, raw_test, text_column, f"evaluate.slices[{index}]")
        pieces = slice_scores(
            slicing, values, lambda rows: scorer.scores("slice", predictions[rows], references[rows]).metrics
        )
        slices += pieces
        checks += check_slices(pieces, slicing)
    return slices, checks


def unseen_rows(train_texts: list[str], test_texts: list[str]) -> np.ndarray:
    """Test rows whose text (case, spaces and punctuation folded) does not occur in train."""
    from modelmill.checks.text import overlap_rows

    seen = set(overlap_rows(train_texts, test_texts, normalized=True))
    return np.array([row for row in range(len(test_texts)) if row not in seen], dtype=int)


def save_figures(model: ModelManifest, test: Scores, output: Path) -> None:
    """The confusion matrix and the validation curve, published together in `output`."""
    with atomic_dir(output) as scratch:
        confusion_matrix_png(test.confusion, model.labels, scratch / CONFUSION_MATRIX,
                             f"Test split ({test.num_examples})")
        best = model.training_arguments.get("metric_for_best_model", "loss")
        training_curve_png(model.history, scratch / TRAINING_CURVE, best)


def assess(
    model: ModelManifest, tokens: TokenizedManifest, data: DataManifest, spec: EvaluateSpec, key: str, output: Path,
    seed: int = 0,
) -> EvaluationReport:
    """Score the model on test (and a train sample, validation, extra sets, slices), beside its baselines; gate it;
    save the confusion matrix and validation curve PNGs in `output`."""
    import datasets

    tokenized = datasets.load_from_disk(str(local_copy(tokens.path)))
    raw = datasets.load_from_disk(str(local_copy(data.path)))
    scorer = Scorer(model, spec)
    validation_probabilities, validation_ids = scorer.probabilities(tokenized["validation"])
    decision, checks = None, []
    if spec.decision_threshold is not None:
        positive = model.labels.index(spec.decision_threshold.positive)
        decision = pick_cutoff(
            spec.decision_threshold, validation_probabilities[:, positive], validation_ids == positive
        )
        scorer.cutoff = (positive, decision.cutoff)
        if not decision.reached:
            wanted = spec.decision_threshold
            checks.append(MetricCheck(metric=f"{wanted.metric}[{wanted.positive}]", value=decision.validation_value,
                                      min=wanted.target, scope="decision threshold on validation"))
    test_probabilities, test_ids = scorer.probabilities(tokenized["test"])
    test_predictions = labels_at(test_probabilities, scorer.cutoff)
    test = scorer.scores("test", test_predictions, test_ids)
    rows = train_sample(tokenized["train"].num_rows, spec.overfitting.train_sample, seed)
    train = scorer.predict_and_score(f"train (sample of {len(rows)})", tokenized["train"].select(rows))
    validation = scorer.scores("validation", labels_at(validation_probabilities, scorer.cutoff), validation_ids)
    baselines = baseline_scores(scorer, raw, data, np.array(column(tokenized["train"], "labels")), validation_ids, test_ids)
    unseen = unseen_rows(column(raw["train"], data.text_column), column(raw["test"], data.text_column))
    clean = None
    if 0 < len(unseen) < len(test_ids):  # some test texts were seen in training: the figures without them, beside
        clean = scorer.scores(f"test, rows not in train ({len(unseen)} of {len(test_ids)})", test_predictions[unseen],
                              test_ids[unseen])
    sets, set_checks = extra_set_scores(scorer, spec, data, tokens.max_length)
    slices, slice_checks = scores_per_slice(scorer, spec, raw["test"], data.text_column, test_predictions, test_ids)
    checks = [
        *check_thresholds(test.metrics, spec.thresholds),
        *check_classes(test.per_class, spec.class_thresholds),
        *check_baselines(test, baselines, spec.baselines.must_beat),
        *set_checks, *slice_checks, *checks,
    ]
    save_figures(model, test, output)
    fit = [train, validation, test]
    return EvaluationReport(
        key=key, metrics=test.metrics, checks=checks, num_examples=test.num_examples, per_class=test.per_class,
        labels=model.labels, support=test.support, confusion=test.confusion, baselines=baselines, fit=fit, unseen=clean,
        sets=sets, slices=slices, decision=decision, figures=output, warnings=fit_warnings(fit, spec.overfitting),
        mistakes=confident_mistakes(column(raw["test"], data.text_column), test_probabilities, test_predictions, test_ids,
                                    model.labels),
    )
