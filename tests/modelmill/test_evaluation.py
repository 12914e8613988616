"""What a reviewer sees before a release: per class, confusion matrix, baselines, gaps, slices, the cut-off."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modelmill.runtime.errors import ConfigError, DataError
from modelmill.evaluation.baselines import classical, majority
from modelmill.evaluation.cutoff import pick_cutoff
from modelmill.evaluation.extra_sets import read_evaluation_set
from modelmill.evaluation.figures import confusion_matrix_png, training_curve_png
from modelmill.evaluation.gates import (
    accuracy_paradox,
    check_baselines,
    check_classes,
    check_slices,
    fit_warnings,
    lost_to_baseline,
)
from modelmill.evaluation.slicing import slice_scores, slice_values
from modelmill.evaluation.tables import confusion_table, evaluation_sections
from modelmill.manifests import BaselineScores, DataManifest, EvaluationReport
from modelmill.evaluation.scoring import labels_at, score, stored_cutoff
from modelmill.config import MACRO_F1, DecisionThresholdSpec, EvaluationSet, OverfittingSpec, SliceSpec, Threshold
from tests.conftest import write_csv

LABELS = ["ham", "spam"]


def rare_class(n: int = 100, positives: int = 3) -> np.ndarray:
    return np.array([1] * positives + [0] * (n - positives))


def test_score_gives_every_class_its_precision_recall_f1_support_and_the_confusion_matrix():
    references = np.array([0, 0, 0, 1, 1, 2])
    predictions = np.array([0, 0, 1, 1, 0, 2])
    scores = score("test", ["accuracy"], predictions, references, "macro", ["a", "b", "c"])
    assert scores.per_class["precision[a]"] == pytest.approx(2 / 3)
    assert scores.per_class["recall[a]"] == pytest.approx(2 / 3)
    assert scores.per_class["recall[b]"] == pytest.approx(1 / 2)
    assert scores.per_class["f1[c]"] == pytest.approx(1.0)
    assert scores.support == {"a": 3, "b": 2, "c": 1}
    assert scores.confusion == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert "| a | 2 | 1 | 0 |" in confusion_table(["a", "b", "c"], scores.confusion)


def test_a_model_that_never_predicts_the_rare_class_fails_the_majority_gate_with_the_accuracy_paradox():
    references = rare_class()
    test = score("test", ["accuracy"], np.zeros(100, dtype=int), references, "macro", LABELS)
    always, label = majority(references)
    baseline = BaselineScores(name="majority", description=f"always '{LABELS[label]}'",
                              scores=score("majority", ["accuracy"], always(["x"] * 100), references, "macro", LABELS))
    [gate] = check_baselines(test, [baseline], ["majority"])
    assert test.metrics["accuracy"] == pytest.approx(0.97) and not gate.passed
    message = accuracy_paradox(test, baseline, LABELS)
    assert "Accuracy paradox" in message and "(always 'ham') scores accuracy 0.9700" in message
    assert "spam 0.00" in message


def test_a_model_that_finds_the_rare_class_beats_the_majority_baseline():
    references = rare_class()
    predictions = references.copy()
    predictions[3] = 1  # one false alarm
    test = score("test", ["accuracy"], predictions, references, "macro", LABELS)
    always_ham = score("majority", ["accuracy"], np.zeros(100, dtype=int), references, "macro", LABELS)
    baseline = BaselineScores(name="majority", description="always 'ham'", scores=always_ham)
    assert [gate.passed for gate in check_baselines(test, [baseline], ["majority"])] == [True]
    assert check_baselines(test, [baseline], []) == []  # reported, not required


def test_by_default_a_model_must_beat_the_majority_and_the_classical_baseline():
    from modelmill.config import EvaluateSpec

    assert EvaluateSpec().baselines.must_beat == ["majority", "classical"]


def test_a_model_that_loses_to_the_classical_baseline_is_told_by_how_much_what_to_try_and_how_to_accept_it():
    # given a fine-tune at macro F1 0.47 and TF-IDF at 0.96 (BBC News, held out)
    references = np.array([0, 1] * 50)
    test = score("test", ["accuracy"], np.array([0, 0, 1, 1] * 25), references, "macro", LABELS)
    tfidf = BaselineScores(name="classical", description="TF-IDF + logistic regression (C=10)",
                           scores=score("classical", ["accuracy"], references, references, "macro", LABELS))
    # when the default gates are checked
    from modelmill.config import EvaluateSpec

    [majority_gate, classical_gate] = check_baselines(
        test, [BaselineScores(name="majority", description="always 'ham'", scores=test), tfidf],
        EvaluateSpec().baselines.must_beat)
    # then it fails the classical gate, and the message names the gap, the remedies and the knowing way out
    assert not classical_gate.passed and classical_gate.scope == "beats the classical baseline"
    message = lost_to_baseline(test, tfidf)
    assert "macro F1 0.5000 vs 1.0000 for TF-IDF + logistic regression (C=10) (0.5000 behind)" in message
    assert "train.epochs" in message and "`search` section" in message and "larger model" in message
    assert message.endswith("evaluate.baselines.must_beat: [majority].")


def test_the_classical_baseline_learns_words_and_picks_its_regularisation_on_validation():
    texts = [f"{word} offer {i}" for i, word in enumerate(["win", "free", "hello", "lunch"] * 10)]
    ids = np.array([1, 1, 0, 0] * 10)
    predict, c = classical(texts, ids, texts[:8], ids[:8])
    assert (predict(["win a prize", "lunch later"]) == [1, 0]).all()
    assert c in (0.1, 1.0, 10.0, 100.0)


def test_class_thresholds_gate_one_class_metric():
    per_class = {"recall[spam]": 0.85, "precision[spam]": 0.99}
    checks = check_classes(per_class, {"spam": {"recall": Threshold(min=0.9), "precision": Threshold(min=0.9)}})
    assert [(c.metric, c.passed) for c in checks] == [("recall[spam]", False), ("precision[spam]", True)]


def test_a_precision_target_gets_the_cutoff_with_the_most_recall_that_reaches_it():
    probabilities = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.1])
    positive = np.array([1, 1, 0, 1, 1, 0, 1, 0], dtype=bool)
    decision = pick_cutoff(DecisionThresholdSpec(positive="spam", metric="precision", target=0.75), probabilities,
                           positive)
    # at >= 0.6: 5 predicted, 4 right (precision 0.8, recall 4/5); lower cut-offs fall under 0.75
    assert decision.cutoff == pytest.approx(0.6) and decision.reached
    assert decision.validation_value == pytest.approx(0.8)
    predicted = labels_at(np.c_[1 - probabilities, probabilities], (1, decision.cutoff))
    assert predicted.tolist() == [1, 1, 1, 1, 1, 0, 0, 0]


def test_a_recall_target_gets_the_cutoff_with_the_most_precision_that_reaches_it_and_an_unreachable_one_says_so():
    probabilities = np.array([0.9, 0.8, 0.7, 0.2])
    positive = np.array([1, 1, 0, 1], dtype=bool)
    decision = pick_cutoff(DecisionThresholdSpec(positive="spam", metric="recall", target=0.6), probabilities, positive)
    # recall 2/3 from 0.8 down: 0.8 has precision 1.0, 0.7 has 2/3, 0.2 has 3/4
    assert decision.cutoff == pytest.approx(0.8) and decision.reached
    never = pick_cutoff(DecisionThresholdSpec(positive="spam", metric="precision", target=1.0),
                        np.array([0.9, 0.5]), np.array([0, 1], dtype=bool))
    assert not never.reached and never.validation_value == pytest.approx(0.5)


def test_a_published_model_carries_its_cutoff_in_config_json(tmp_path: Path):
    (tmp_path / "config.json").write_text(json.dumps(
        {"label2id": {"ham": 0, "spam": 1}, "decision_threshold": {"label": "spam", "cutoff": 0.3}}
    ))
    assert stored_cutoff(tmp_path) == (1, 0.3)
    assert labels_at(np.array([[0.65, 0.35], [0.8, 0.2]]), stored_cutoff(tmp_path)).tolist() == [1, 0]


def test_slices_by_column_and_by_text_length_with_minimums_only_on_large_enough_slices():
    import datasets

    rows = datasets.Dataset.from_dict({"text": ["a" * 10, "b" * 60, "c" * 200, "d" * 5],
                                       "source": ["web", "app", "web", None]})
    assert slice_values(SliceSpec(length_buckets=[50, 150]), rows, "text", "s") == ["< 50", "50-149", ">= 150", "< 50"]
    by_source = SliceSpec(column="source", min={"accuracy": 0.9}, min_examples=2)
    values = slice_values(by_source, rows, "text", "s")
    assert values == ["web", "app", "web", "(empty)"]
    pieces = slice_scores(by_source, values, lambda rows: {"accuracy": 1.0 if len(rows) == 1 else 0.5})
    assert [(p.value, p.num_examples, p.gated) for p in pieces] == [("web", 2, True), ("(empty)", 1, False),
                                                                     ("app", 1, False)]
    assert [(c.scope, c.passed) for c in check_slices(pieces, by_source)] == [("slice source=web", False)]
    with pytest.raises(ConfigError, match=r"evaluate.slices\[0\].column: the test split has no column 'country'"):
        slice_values(SliceSpec(column="country"), rows, "text", "evaluate.slices[0]")


def test_gaps_beyond_the_declared_tolerance_warn_and_small_ones_do_not():
    def scores(value: float):
        return score("s", [], np.array([0, 1]), np.array([0, 1]), "macro", LABELS).model_copy(
            update={"metrics": {MACRO_F1: value}})

    spec = OverfittingSpec(max_train_validation_gap=0.1, max_validation_test_gap=0.05)
    [overfit] = fit_warnings([scores(1.0), scores(0.8), scores(0.79)], spec)
    assert "Possible overfitting" in overfit and "gap 0.2000" in overfit
    [disagree] = fit_warnings([scores(0.9), scores(0.88), scores(0.7)], spec)
    assert "Validation and test disagree" in disagree
    assert fit_warnings([scores(0.9), scores(0.85), scores(0.83)], spec) == []


def test_the_confusion_matrix_figure_labels_its_axes_and_writes_the_counts_in_the_cells():
    from modelmill.evaluation.figures import confusion_matrix_figure

    figure = confusion_matrix_figure([[5, 1], [2, 7]], LABELS, "Test split")
    axes = figure.axes[0]
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("Predicted label", "True label")
    assert [tick.get_text() for tick in axes.get_xticklabels()] == LABELS
    assert sorted(text.get_text() for text in axes.texts) == ["1", "2", "5", "7"]
    import matplotlib.pyplot as plt

    plt.close(figure)


def test_figures_are_pngs_and_no_curve_is_drawn_without_validation_history(tmp_path: Path):
    confusion = confusion_matrix_png([[5, 1], [2, 7]], LABELS, tmp_path / "cm.png", "Test split")
    assert confusion.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = [{"epoch": 0.5, "loss": 0.7}, {"epoch": 1.0, "eval_loss": 0.5, "eval_accuracy": 0.8},
               {"epoch": 2.0, "eval_loss": 0.4, "eval_accuracy": 0.9}]
    assert training_curve_png(history, tmp_path / "curve.png", "loss").stat().st_size > 1000
    assert training_curve_png(history[:1], tmp_path / "none.png", "loss") is None


def test_the_sections_show_per_class_confusion_and_baselines_and_embed_the_figures():
    references, predictions = rare_class(), rare_class()
    test = score("test", ["accuracy"], predictions, references, "macro", LABELS)
    report = EvaluationReport(
        key="k", metrics=test.metrics, checks=[], num_examples=100, per_class=test.per_class, labels=LABELS,
        support=test.support, confusion=test.confusion,
    )
    text = evaluation_sections(report, {"Confusion matrix": "evaluation/confusion_matrix.png"})
    assert "| spam | 1.0000 | 1.0000 | 1.0000 | 3 | - | - |" in text
    assert "| ham | 97 | 0 |" in text
    assert "![Confusion matrix](evaluation/confusion_matrix.png)" in text


def evaluation_data() -> DataManifest:
    return DataManifest(key="d", path=Path("."), fingerprint="f", labels=LABELS, label_ids={"ham": 0, "spam": 1},
                        text_column="text", label_column="label", num_rows={}, source="s")


def test_an_extra_set_with_an_unknown_label_or_a_missing_column_names_its_file(tmp_path: Path):
    unknown = write_csv(tmp_path / "frozen.csv", [{"text": "hi", "label": "ham"}, {"text": "win", "label": "scam"}])
    with pytest.raises(DataError, match=r"frozen.csv \(evaluate.sets.frozen\): column 'label' has labels \['scam'\]"):
        read_evaluation_set("frozen", EvaluationSet(file=unknown), evaluation_data())
    no_label = write_csv(tmp_path / "nolabel.csv", [{"text": "hi", "category": "ham"}])
    with pytest.raises(DataError, match=r"nolabel.csv: no column 'label' \(data.label_column\) \(evaluate.sets.frozen\)"):
        read_evaluation_set("frozen", EvaluationSet(file=no_label), evaluation_data())


def test_the_surest_mistakes_come_first_and_stay_out_of_the_model_card():
    from modelmill.evaluation.assess import confident_mistakes

    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.05, 0.95]])
    predictions, references = np.array([0, 1, 0, 1]), np.array([1, 1, 1, 0])
    texts = ["free prize | now", "hello", "call me", "win cash"]
    mistakes = confident_mistakes(texts, probabilities, predictions, references, LABELS, limit=2)
    assert [(m.row, m.label, m.predicted, m.probability) for m in mistakes] == [(4, "ham", "spam", 0.95),
                                                                                  (1, "spam", "ham", 0.9)]
    report = EvaluationReport(key="k", metrics={}, checks=[], num_examples=4, mistakes=mistakes)
    assert "| 1 | free prize \\| now | spam | ham | 0.900 |" in evaluation_sections(report)
    assert "win cash" not in evaluation_sections(report, examples=False)
