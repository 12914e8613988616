"""Each built-in data check, passing and failing, on tiny data, reported like a GX rule."""

from __future__ import annotations

import datasets
import pytest

from modelmill.checks.text import duplicate_rows, overlap_rows, thin_classes
from modelmill.manifests import DataManifest
from modelmill.config import ValidationSpec
from tasks.validate import run_rules

DATA = DataManifest(key="k", path=".", fingerprint="f", labels=["ham", "spam"], label_ids={"ham": 0, "spam": 1},
                    text_column="text", label_column="label", num_rows={}, source="s")


def splits(train: list[tuple[str, str]], validation: list[tuple[str, str]], test: list[tuple[str, str]]):
    def part(rows):
        return datasets.Dataset.from_dict({"text": [t for t, _ in rows], "label": [lab for _, lab in rows]})

    return datasets.DatasetDict({"train": part(train), "validation": part(validation), "test": part(test)})


BALANCED = [(f"message {i}", "spam" if i % 2 else "ham") for i in range(20)]


def results(dataset, name: str, **checks):
    """Each split's result of built-in check `name` (the overlap: with train, exact)."""
    report = run_rules(dataset, ValidationSpec(checks=checks), DATA)
    return {r.split: r for r in report.results if r.source == f"built-in: {name}"
            and (name != "overlap" or r.rule.endswith("repeats a train text (exact)"))}


def test_plain_functions():
    assert overlap_rows(["Win a prize!"], ["win a prize", "hello"], normalized=True) == [0]
    assert overlap_rows(["Win a prize!"], ["win a prize", "hello"], normalized=False) == []
    assert duplicate_rows(["a", "A!", "b", "a"], normalized=False) == [3]
    assert duplicate_rows(["a", "A!", "b", "a"], normalized=True) == [1, 3]
    assert thin_classes(["ham"] * 19 + ["spam"], ["ham", "spam"], min_share=0.1, min_examples=1) == {"spam": 1}
    assert thin_classes(["ham"] * 10 + ["spam"] * 10, ["ham", "spam"], min_share=0.1, min_examples=5) == {}


def test_overlap_with_train_is_found_exactly_and_after_folding():
    clean = results(splits(BALANCED, [("new one", "ham"), ("new two", "spam")], [("other", "ham"), ("x", "spam")]),
                    "overlap")
    assert clean["test"].success
    leaky = splits(BALANCED, [("MESSAGE 3!", "spam"), ("new two", "ham")], [("message 4", "ham"), ("x", "spam")])
    found = [r for r in run_rules(leaky, ValidationSpec(), DATA).results if r.source == "built-in: overlap"]
    by = {(r.split, r.rule.rsplit("(", 1)[1].rstrip(")")): r for r in found if "a train text" in r.rule}
    assert by[("test", "exact")].unexpected_count == 1 and by[("test", "exact")].sample[0]["row"] == 1
    assert by[("validation", "exact")].success and by[("validation", "normalized")].unexpected_count == 1


def test_overlap_above_its_share_is_critical_and_below_it_a_warning():
    # given a test split of 200 rows where 1 (0.5 %) or 3 (1.5 %) repeat a train text
    fresh = [(f"unseen text {i}", "spam" if i % 2 else "ham") for i in range(200)]
    for copies, severity in ((1, "warning"), (3, "critical")):
        test = BALANCED[:copies] + fresh[copies:]
        found = results(splits(BALANCED, fresh[:10], test), "overlap")
        assert not found["test"].success and found["test"].unexpected_count == copies
        assert found["test"].severity == severity, (copies, found["test"])
    # and a declared share moves the line
    found = results(splits(BALANCED, fresh[:10], BALANCED[:3] + fresh[3:]), "overlap", overlap={"max_share": 0.02})
    assert found["test"].severity == "warning"


def test_a_checked_split_is_compared_with_train_even_when_train_itself_is_not_checked():
    leaky = splits(BALANCED, [("new one", "ham"), ("new two", "spam")], [("message 4", "ham"), ("x", "spam")])
    found = [r for r in run_rules(leaky, ValidationSpec(splits=["test"]), DATA).results
             if r.source == "built-in: overlap" and not r.success]
    assert {(r.split, r.rule) for r in found} == {("test", "at most 1% of test repeats a train text (exact)"),
                                                 ("test", "at most 1% of test repeats a train text (normalized)")}


def test_a_test_split_copied_from_validation_is_critical_overlap():
    # given a test split that is a subset of validation (and shares nothing with train)
    fresh = [(f"unseen text {i}", "spam" if i % 2 else "ham") for i in range(20)]
    found = [r for r in run_rules(splits(BALANCED, fresh, fresh[:8]), ValidationSpec(), DATA).results
             if r.source == "built-in: overlap" and "a validation text" in r.rule]
    # then the check flags every test row, critical, exactly and folded
    assert [(r.split, r.unexpected_count, r.severity) for r in found] == [("test", 8, "critical")] * 2


def test_dropped_rows_are_those_that_repeat_an_earlier_split_folded_or_exactly():
    from modelmill.checks.overlap import dataset_hashes, rows_to_drop

    dataset = splits(BALANCED, [("MESSAGE 3!", "spam"), ("new", "ham"), ("message 5", "spam")],
                     [("New", "ham"), ("message 4", "ham"), ("fresh", "spam")])
    hashes = dataset_hashes(dataset, "text")
    assert rows_to_drop(True, hashes) == {"validation": [0, 2], "test": [0, 1]}
    assert rows_to_drop(False, hashes) == {"validation": [2], "test": [1]}


def test_duplicates_in_a_split():
    found = results(splits(BALANCED + [("Message 1", "spam")], BALANCED[:4], BALANCED[4:8]), "duplicates")
    assert not found["train"].success and found["train"].unexpected_count == 1 and found["test"].success


def test_class_balance_names_the_thin_class():
    skewed = [("ham text %d" % i, "ham") for i in range(19)] + [("spam text", "spam")]
    found = results(splits(skewed, BALANCED[:10], BALANCED[10:]), "class_balance")
    assert not found["train"].success and "too few: {'spam': 1}" in found["train"].observed
    assert found["validation"].success


def test_empty_texts_label_sets_and_label_shift_through_gx():
    test = [(f"t{i}", "ham") for i in range(9)] + [("t9", "spam")]
    dataset = splits(BALANCED + [("   ", "ham")], [("a", "ham"), ("b", "ham")], test)
    report = run_rules(dataset, ValidationSpec(), DATA)
    by = {(r.source, r.split): r for r in report.results}
    assert not by[("built-in: empty_text", "train")].success and by[("built-in: empty_text", "test")].success
    assert not by[("built-in: label_sets", "validation")].success, "validation has no spam"
    assert by[("built-in: label_sets", "test")].success
    assert not by[("built-in: label_shift", "test")].success, "90% ham in test vs about 50% in train"
    balanced = run_rules(splits(BALANCED, BALANCED[:4], BALANCED[4:8]), ValidationSpec(), DATA)
    assert all(r.success for r in balanced.results if r.source == "built-in: label_shift")


@pytest.mark.parametrize("name", ["overlap", "duplicates", "empty_text", "class_balance", "label_sets", "label_shift"])
def test_each_check_can_be_switched_off(name):
    dataset = splits(BALANCED, BALANCED[:4], BALANCED[4:8])
    report = run_rules(dataset, ValidationSpec(checks={name: {"enabled": False}}), DATA)
    assert not [r for r in report.results if r.source == f"built-in: {name}"]


def test_a_text_with_two_labels_is_a_conflict_not_a_duplicate():
    # given a train split with one text written twice with the same label, and one with both labels
    train = BALANCED + [("message 2", "ham"), ("Message 3!", "ham")]  # "message 3" is spam in BALANCED
    report = run_rules(splits(train, BALANCED[:4], BALANCED[4:8]), ValidationSpec(
        checks={"overlap": {"enabled": False}}), DATA)
    found = {(r.expectation, r.split): r for r in report.results}
    # then the repeat is a duplicate, and both rows of the torn text are a conflict (and not duplicates)
    duplicates, conflicts = found["modelmill.duplicates", "train"], found["modelmill.conflicts", "train"]
    assert [row["row"] for row in duplicates.sample] == [21]
    assert [row["row"] for row in conflicts.sample] == [4, 22] and conflicts.rule == "no text with two labels (normalized)"


def test_a_class_of_eight_percent_warns_by_default():
    rows = [(f"message {i}", "spam" if i < 8 else "ham") for i in range(100)]
    found = results(splits(rows, BALANCED, BALANCED), "class_balance")
    assert not found["train"].success and found["train"].severity == "warning" and found["validation"].success
