"""The gates a model must pass before its push, and the warnings a reviewer reads beside them."""

from __future__ import annotations

from modelmill.config import (
    MACRO_F1,
    ClassThresholds,
    EvaluateSpec,
    OverfittingSpec,
    SliceSpec,
    Threshold,
    unknown_classes,
)
from modelmill.manifests import TEST_SCOPE, BaselineScores, MetricCheck, Scores, SliceScores
from modelmill.metrics import LOWER_IS_BETTER
from modelmill.runtime.errors import ConfigError


def is_test_gate(check: MetricCheck) -> bool:
    """A threshold on the test split (averaged or per class), as opposed to a baseline, set, slice or cut-off gate."""
    return check.scope == TEST_SCOPE


BASELINE_PREFIX = "beats the "


def baseline_scope(name: str) -> str:
    """Where a baseline gate is measured: 'beats the majority baseline'."""
    return f"{BASELINE_PREFIX}{name} baseline"


def is_baseline_gate(check: MetricCheck) -> bool:
    return check.scope.startswith(BASELINE_PREFIX)


def set_scope(name: str) -> str:
    """Where an extra evaluation set's gates are measured: 'set frozen_v1'."""
    return f"set {name}"


def is_set_gate(check: MetricCheck) -> bool:
    return check.scope.startswith(set_scope(""))


def slice_scope(piece: SliceScores) -> str:
    """Where a slice's minimums are measured: 'slice source=web'."""
    return f"slice {piece.slicing}={piece.value}"


def require_known_classes(spec: EvaluateSpec, labels: list[str]) -> None:
    """Every class `evaluate` names must be a label of the data (checked once the labels are known)."""
    problems = unknown_classes(spec, labels)
    if problems:
        raise ConfigError("; ".join(problems))


def check_thresholds(
    metrics: dict[str, float], thresholds: dict[str, Threshold], scope: str = TEST_SCOPE
) -> list[MetricCheck]:
    """One check per threshold, observed value against the bounds."""
    missing = sorted(set(thresholds) - set(metrics))
    if missing:
        raise ConfigError(f"evaluate.thresholds: no computed metric named {missing}; computed {sorted(metrics)}")
    return [
        MetricCheck(metric=name, value=metrics[name], min=bound.min, max=bound.max, scope=scope)
        for name, bound in thresholds.items()
    ]


def check_classes(per_class: dict[str, float], thresholds: ClassThresholds, scope: str = TEST_SCOPE) -> list[MetricCheck]:
    """One check per class threshold, e.g. `recall[spam] >= 0.9`."""
    return [
        MetricCheck(metric=f"{metric}[{label}]", value=per_class[f"{metric}[{label}]"], min=bound.min,
                    max=bound.max, scope=scope)
        for label, bounds in thresholds.items()
        for metric, bound in bounds.items()
    ]


def check_baselines(model: Scores, baselines: list[BaselineScores], must_beat: list[str]) -> list[MetricCheck]:
    """The model's macro F1 must be strictly above each required baseline's."""
    return [
        MetricCheck(metric=MACRO_F1, value=model.metrics[MACRO_F1], above=baseline.scores.metrics[MACRO_F1],
                    scope=baseline_scope(baseline.name))
        for baseline in baselines if baseline.name in must_beat
    ]


def check_untuned(metrics: dict[str, float], untuned: BaselineScores, metric: str) -> MetricCheck:
    """The fine-tune must be strictly better than the untuned model it started from on `metric` (a loss or a
    perplexity: strictly lower)."""
    theirs = untuned.scores.metrics[metric]
    lower = metric in LOWER_IS_BETTER
    return MetricCheck(metric=metric, value=metrics[metric], above=None if lower else theirs,
                       below=theirs if lower else None, scope=baseline_scope(untuned.name))


def check_slices(slices: list[SliceScores], spec: SliceSpec) -> list[MetricCheck]:
    """Every gated slice against the slicing's minimums."""
    return [
        MetricCheck(metric=name, value=piece.metrics[name], min=minimum, scope=slice_scope(piece))
        for piece in slices if piece.gated
        for name, minimum in spec.min.items()
    ]


def fit_warnings(fit: list[Scores], spec: OverfittingSpec) -> list[str]:
    """Macro-F1 gaps train -> validation and validation -> test beyond their tolerance (fit: train, val, test)."""
    train, validation, test = (part.metrics[MACRO_F1] for part in fit)
    warnings = []
    if train - validation > spec.max_train_validation_gap:
        warnings.append(
            f"Possible overfitting: macro F1 is {train:.4f} on train but {validation:.4f} on validation "
            f"(gap {train - validation:.4f} > evaluate.overfitting.max_train_validation_gap "
            f"{spec.max_train_validation_gap:g})."
        )
    if abs(validation - test) > spec.max_validation_test_gap:
        warnings.append(
            f"Validation and test disagree: macro F1 {validation:.4f} on validation, {test:.4f} on test "
            f"(gap {abs(validation - test):.4f} > evaluate.overfitting.max_validation_test_gap "
            f"{spec.max_validation_test_gap:g}); the checkpoint choice or the split may not be representative."
        )
    return warnings


def accuracy_paradox(test: Scores, majority: BaselineScores, labels: list[str]) -> str:
    """Why a model that does not beat the majority class is refused, in plain words."""
    recalls = ", ".join(f"{label} {test.per_class[f'recall[{label}]']:.2f}" for label in labels)
    accuracy = test.metrics.get("accuracy", float("nan"))
    return (
        f"Accuracy paradox: the model does not beat the majority baseline on macro F1 "
        f"({test.metrics[MACRO_F1]:.4f} vs {majority.scores.metrics[MACRO_F1]:.4f}). The majority baseline "
        f"({majority.description}) scores accuracy {majority.scores.metrics['accuracy']:.4f} on this test split "
        f"without learning anything, so this model's accuracy of {accuracy:.4f} shows nothing it learned; it misses "
        f"what matters (recall per class: {recalls})."
    )


def lost_to_baseline(test: Scores, baseline: BaselineScores) -> str:
    """Why a model that loses to a cheap baseline is refused: by how much, what to try, how to accept it knowingly."""
    ours, theirs = test.metrics[MACRO_F1], baseline.scores.metrics[MACRO_F1]
    kept = [name for name in ("majority", "classical") if name != baseline.name]
    return (
        f"Lost to the {baseline.name} baseline: macro F1 {ours:.4f} vs {theirs:.4f} for {baseline.description} "
        f"({theirs - ours:.4f} behind). Fine-tuning is not worth shipping when a model this cheap does better. Try "
        f"more epochs (train.epochs), a hyperparameter search (the `search` section), a larger model "
        f"(model.name_or_path), or more training data. To ship it anyway, knowingly, set "
        f"evaluate.baselines.must_beat: [{', '.join(kept)}]."
    )


def lost_to_untuned(check: MetricCheck, untuned: BaselineScores) -> str:
    """Why a fine-tune no better than the model it started from is refused: by how much, what to try, how to
    accept it knowingly."""
    behind = abs(check.value - (check.below if check.below is not None else check.above or 0.0))
    return (
        f"Lost to the untuned model: {check.metric} {check.value:.4f} vs {untuned.scores.metrics[check.metric]:.4f} "
        f"for {untuned.description} ({behind:.4f} behind). The fine-tune did not improve on where it started. Try "
        f"more epochs (train.epochs), another learning rate (train.learning_rate), a hyperparameter search (the "
        f"`search` section), or more training data. To ship it anyway, knowingly, set "
        f"evaluate.baselines.must_beat: []."
    )
