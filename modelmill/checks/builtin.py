"""The built-in checks of `validation.checks`, reported like GX rules: GX expectations where GX has one (empty
texts, label sets, label shift), plain functions where it has none (overlap, duplicates, class balance)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from modelmill.checks.overlap import dataset_hashes, dropped_note, find_overlaps
from modelmill.checks.text import conflicting_rows, repeated_rows, thin_classes
from modelmill.config import BuiltinChecks, ExpectationRule
from modelmill.data.facts import column
from modelmill.manifests import DataManifest, RuleResult
from modelmill.observe.text_cells import shorten

if TYPE_CHECKING:
    import datasets

HELD_OUT = ("validation", "test")


def builtin_rules(checks: BuiltinChecks, data: DataManifest, train: datasets.Dataset) -> list[tuple[str, ExpectationRule]]:
    """GX rules for the checks GX can express, built from the train split."""
    rules: list[tuple[str, ExpectationRule]] = []
    text, label = data.text_column, data.label_column
    if checks.empty_text.enabled:
        rules.append(("built-in: empty_text", ExpectationRule(
            expectation="expect_column_values_to_not_match_regex", kwargs={"column": text, "regex": r"^\s*$"},
            severity=checks.empty_text.severity)))
    counts = Counter(column(train, label))
    if checks.label_sets.enabled:
        rules.append(("built-in: label_sets", ExpectationRule(
            expectation="expect_column_distinct_values_to_equal_set",
            kwargs={"column": label, "value_set": sorted(counts, key=str)},
            severity=checks.label_sets.severity, splits=list(HELD_OUT))))
    if checks.label_shift.enabled:
        values = sorted(counts, key=str)
        weights = [counts[value] / train.num_rows for value in values]
        rules.append(("built-in: label_shift", ExpectationRule(
            expectation="expect_column_k_l_divergence_to_be_less_than",
            kwargs={"column": label, "partition_object": {"values": values, "weights": weights},
                    "threshold": checks.label_shift.max_kl},
            severity=checks.label_shift.severity, splits=["test"])))
    return rules


def _source(name: str) -> str:
    return f"built-in: {name.removeprefix('modelmill.')}"


def _row_result(name: str, rule: str, split: str, severity: str, column: str, rows: list[int],
                part: datasets.Dataset, shown: int) -> RuleResult:
    """A check that flags rows (0-based `rows` of `part`): passes when there are none."""
    sample = [{"row": row + 1, **{key: shorten(value) for key, value in part[row].items()}} for row in rows[:shown]]
    return RuleResult(
        split=split, expectation=name, rule=rule, source=_source(name), severity=severity, column=column,
        success=not rows, unexpected_count=len(rows), unexpected_percent=100.0 * len(rows) / max(part.num_rows, 1),
        sample=sample,
    )


def plain_checks(
    checks: BuiltinChecks, data: DataManifest, dataset: datasets.DatasetDict, splits: list[str], shown: int
) -> list[RuleResult]:
    """Overlap with train, duplicates within a split, and class balance, each a RuleResult per split."""
    results: list[RuleResult] = []
    text = data.text_column
    hashes = dataset_hashes(dataset, text)  # each split's texts read, folded, hashed once

    if checks.overlap.enabled:
        overlap = checks.overlap
        for found in find_overlaps(overlap, hashes, splits):
            results.append(_row_result("modelmill.overlap", found.rule(overlap), found.split, found.severity(overlap),
                                       text, found.rows, dataset[found.split], shown))
        if data.dropped:
            results.append(RuleResult(
                split="validation, test", expectation="modelmill.overlap", source=_source("modelmill.overlap"),
                rule="rows that repeat a text of an earlier split are dropped (validation.checks.overlap.action: drop)",
                severity="warning", column=text, success=True, observed=dropped_note(data.dropped)))
    if checks.duplicates.enabled:
        how = "normalized" if checks.duplicates.normalized else "exact"
        for split in splits:
            keys = hashes(split, checks.duplicates.normalized)
            torn = conflicting_rows(keys, column(dataset[split], data.label_column))
            rows = sorted(set(repeated_rows(keys)) - set(torn))
            results.append(_row_result("modelmill.duplicates", f"no repeated text ({how})", split,
                                       checks.duplicates.severity, text, rows, dataset[split], shown))
            results.append(_row_result("modelmill.conflicts", f"no text with two labels ({how})", split,
                                       checks.duplicates.severity, text, torn, dataset[split], shown))
    if checks.class_balance.enabled:
        balance = checks.class_balance
        for split in splits:
            labels = [str(v) for v in column(dataset[split], data.label_column)]
            thin = thin_classes(labels, list(data.label_ids), balance.min_share, balance.min_examples)
            counts = dict(Counter(labels))
            results.append(RuleResult(
                split=split, expectation="modelmill.class_balance", source=_source("modelmill.class_balance"),
                rule=f"every class >= {balance.min_share:.0%} of the split and >= {balance.min_examples} examples",
                severity=balance.severity, column=data.label_column, success=not thin,
                observed=f"too few: {thin}; all: {counts}" if thin else counts,
            ))
    return results
