"""Baselines on the same splits as the model: always the majority class, and TF-IDF + logistic regression."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

CLASSICAL_C = (0.1, 1.0, 10.0, 100.0)  # regularisation strengths tried; the best macro F1 on validation wins

Predictor = Callable[[Sequence[str]], np.ndarray]


def majority(train_ids: np.ndarray) -> tuple[Predictor, int]:
    """Always the most frequent train label (lowest id on a tie), and that label id."""
    label = int(np.bincount(train_ids).argmax())
    return (lambda texts: np.full(len(texts), label)), label


def classical(
    train_texts: Sequence[str], train_ids: np.ndarray, validation_texts: Sequence[str], validation_ids: np.ndarray
) -> tuple[Predictor, float]:
    """TF-IDF (word 1-2 grams, sublinear tf) + logistic regression fit on train; C is picked on validation.

    A tuned classical model is the honest bar: a fine-tuned transformer that cannot beat it is not worth its cost.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    features = vectorizer.fit_transform(train_texts)
    held_out = vectorizer.transform(validation_texts)
    best: tuple[float, float, LogisticRegression] | None = None
    for c in CLASSICAL_C:
        model = LogisticRegression(C=c, max_iter=2000).fit(features, train_ids)
        macro = f1_score(validation_ids, model.predict(held_out), average="macro", zero_division=0)
        if best is None or macro > best[0]:
            best = (macro, c, model)
    assert best is not None
    _, c, model = best
    return (lambda texts: model.predict(vectorizer.transform(texts))), c
