"""Scores of generated answers against their references: exact match and token F1 (SQuAD's normalisation), ROUGE-L,
and the share of answers that parse as JSON (and validate against a JSON Schema)."""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from pathlib import Path
from typing import Any

ARTICLES = re.compile(r"\b(a|an|the)\b")
GENERATED_METRICS = ("exact_match", "token_f1", "rougeL", "json_valid")  # scored on the answers (perplexity is not)


def normalized(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (SQuAD's answer normalisation)."""
    text = "".join(char for char in text.lower() if char not in string.punctuation)
    return " ".join(ARTICLES.sub(" ", text).split())


def token_f1(answer: str, reference: str) -> float:
    """F1 of the words the normalised answer and reference share (1.0 when both are empty)."""
    ours, theirs = normalized(answer).split(), normalized(reference).split()
    if not ours or not theirs:
        return float(ours == theirs)
    common = sum((Counter(ours) & Counter(theirs)).values())
    if not common:
        return 0.0
    precision, recall = common / len(ours), common / len(theirs)
    return 2 * precision * recall / (precision + recall)


def read_schema(path: Path) -> dict[str, Any]:
    """The JSON Schema in `path`, checked as a schema; a ValueError names the file."""
    from jsonschema import Draft202012Validator, SchemaError

    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a JSON file ({exc})") from None
    except SchemaError as exc:
        raise ValueError(f"{path}: not a valid JSON Schema ({exc.message})") from None
    return schema


def json_valid(answer: str, schema: dict[str, Any] | None) -> bool:
    """The answer parses as JSON and (given a schema) validates against it."""
    from jsonschema import Draft202012Validator

    try:
        value = json.loads(answer)
    except ValueError:
        return False
    return schema is None or Draft202012Validator(schema).is_valid(value)


def mean_rouge(predictions: list[str], references: list[str], names: list[str]) -> dict[str, float]:
    """The mean F-measure over the pairs of each ROUGE variant (the shipped `rouge` module, one score per pair:
    the same texts give the same figures, unlike a bootstrap)."""
    import numpy as np

    from modelmill.metrics import load_metric

    scores = load_metric("rouge").compute(predictions=predictions, references=references, rouge_types=names,
                                          use_aggregator=False)
    return {name: float(np.mean(scores[name])) if scores[name] else 0.0 for name in names}


def answer_scores(answers: list[str], references: list[str]) -> list[float]:
    """Each answer's token F1: what the report sorts the worst generations by."""
    return [token_f1(answer, reference) for answer, reference in zip(answers, references, strict=True)]


def generation_metrics(answers: list[str], references: list[str], names: list[str],
                       schema: dict[str, Any] | None = None) -> dict[str, float]:
    """The mean of each metric in `names` (those of GENERATED_METRICS) over the answers."""
    metrics: dict[str, float] = {}
    count = max(len(answers), 1)
    if "exact_match" in names:
        metrics["exact_match"] = sum(normalized(a) == normalized(r) for a, r in zip(answers, references)) / count
    if "token_f1" in names:
        metrics["token_f1"] = sum(answer_scores(answers, references)) / count
    if "rougeL" in names:
        metrics["rougeL"] = mean_rouge(answers, references, ["rougeL"])["rougeL"]
    if "json_valid" in names:
        metrics["json_valid"] = sum(json_valid(answer, schema) for answer in answers) / count
    return metrics
