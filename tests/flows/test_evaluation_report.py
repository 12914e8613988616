"""The evaluation a reviewer reads, end to end: in the run's result, its Prefect artifact and the pushed card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import LEARNS_THE_TASK, pipeline_dict, review_rows, write_csv
from tests.flows.conftest import run_artifacts


def test_a_run_reports_per_class_confusion_baselines_fit_sets_slices_and_its_cutoff_everywhere(
    prefect, run, tiny_model_dir: Path, review_files, tmp_path: Path
):
    # given a test split with a `source` column, a frozen regression set, and every evaluation option
    write_csv(review_files["test"], [{**row, "source": ("web", "app")[i % 3 == 0]}
                                     for i, row in enumerate(review_rows(3, 12))])
    frozen = write_csv(tmp_path / "frozen.csv", review_rows(7, 10))
    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["train"].update(LEARNS_THE_TASK)
    # the majority gate only: on 12 test rows the tiny model and TF-IDF can tie within a row either way (a gate
    # test of its own covers the classical one); both baselines are reported all the same
    spec["evaluate"]["baselines"] = {"must_beat": ["majority"]}
    spec["evaluate"].update(
        class_thresholds={"positive": {"recall": {"min": 0.0}}},
        sets={"frozen_v1": {"file": str(frozen), "thresholds": {"accuracy": {"min": 0.0}}}},
        slices=[{"column": "source", "min": {"accuracy": 0.0}, "min_examples": 2}, {"length_buckets": [30]}],
        decision_threshold={"positive": "positive", "metric": "precision", "target": 0.5},
    )
    # when it runs (a dry run writes what it would push)
    state, _ = run(spec, dry_run=True)
    assert state.is_completed(), state.message
    report = state.result().evaluation
    # then the result holds every view, each from the same 12 test rows
    classes = ("negative", "positive")
    assert set(report.per_class) == {f"{m}[{c}]" for m in ("precision", "recall", "f1") for c in classes}
    assert report.support == {"negative": 6, "positive": 6} and sum(map(sum, report.confusion)) == 12
    assert [b.name for b in report.baselines] == ["majority", "classical"]
    assert [part.name for part in report.fit] == ["train (sample of 48)", "validation", "test"]
    assert [(s.name, s.num_examples) for s in report.sets] == [("frozen_v1", 10)]
    assert {(p.slicing, p.value, p.num_examples) for p in report.slices if p.slicing == "source"} == {
        ("source", "web", 8), ("source", "app", 4)}
    assert {c.scope for c in report.checks} >= {"test", "beats the majority baseline", "set frozen_v1",
                                                "slice source=web", "slice source=app"}
    assert report.decision is not None and report.decision.label == "positive"
    # the Prefect artifact shows the tables and the figures inline
    [markdown] = [a.data for a in run_artifacts(state) if a.type == "markdown" and "data:image/png;base64," in a.data]
    assert "### Per class" in markdown and "### Confusion matrix" in markdown
    assert "![Confusion matrix](data:image/png;base64," in markdown
    # the pushed files carry the cut-off in config.json, the figures, and a card that shows them
    folder = state.result().push.folder
    cutoff = json.loads((folder / "config.json").read_text())["decision_threshold"]
    assert cutoff["label"] == "positive" and cutoff["cutoff"] == pytest.approx(report.decision.cutoff)
    card = (folder / "README.md").read_text()
    assert (folder / "evaluation" / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert "![Confusion matrix](evaluation/confusion_matrix.png)" in card
    assert "Decision threshold: predict **positive**" in card and "| frozen_v1 | 10 |" in card
    assert "| source = web | 8 |" in card and "| majority: always 'negative' |" in card


def test_a_model_that_only_predicts_the_majority_class_is_refused_with_the_accuracy_paradox(
    prefect, run, tiny_model_dir: Path, review_files
):
    # given one positive review per split, worded like the negatives: nothing tells the classes apart
    for split, path in review_files.items():
        seed = {"train": 1, "validation": 2, "test": 3}[split]
        rows = [{**row, "label": "negative"} for row in review_rows(seed, 24)]
        rows[0]["label"] = "positive"
        write_csv(path, rows)
    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["validation"] = {"checks": {"class_balance": {"enabled": False}}}
    del spec["evaluate"]["baselines"]  # the default gate: beat the majority class
    # when the flow runs
    state, stages = run(spec)
    # then the high accuracy does not get it pushed: the message explains why in plain words
    assert state.is_failed() and stages["evaluate"] == "Failed" and "push" not in stages
    with pytest.raises(Exception, match=r"(?s)Accuracy paradox: .*\(always 'negative'\) scores accuracy 0\.9583"):
        state.result()


def test_a_class_the_data_does_not_have_stops_the_run_before_training(prefect, run, tiny_model_dir, review_files):
    spec = pipeline_dict(tiny_model_dir, review_files)
    del spec["data"]["labels"]  # the labels come from the data: only a run can check the class name
    spec["evaluate"]["class_thresholds"] = {"postive": {"recall": {"min": 0.9}}}
    state, stages = run(spec)
    assert state.is_failed() and "train" not in stages
    with pytest.raises(Exception, match=r"evaluate.class_thresholds.postive: 'postive' is not one of the labels"):
        state.result()


def test_leaked_test_rows_stop_the_run_and_once_allowed_the_report_shows_the_metrics_without_them(
    prefect, run, tiny_model_dir: Path, review_files
):
    # given a test split of which a quarter is copied from train (different case and punctuation)
    train = review_rows(1, 48)
    test = [{**row, "text": row["text"].upper() + "!"} for row in train[:3]] + review_rows(3, 9)
    write_csv(review_files["test"], test)
    spec = pipeline_dict(tiny_model_dir, review_files)
    # when it runs, the overlap (above 1 % of the split) is critical: nothing is trained
    state, stages = run(spec, dry_run=True)
    assert state.is_failed() and "train" not in stages
    assert "at most 1% of test repeats a train text (normalized)" in state.message
    # when the share is allowed, the run goes on, and the report gives the test metrics without the leaked rows
    spec["validation"]["checks"] = {"overlap": {"max_share": 0.5}}
    state, _ = run(spec, dry_run=True)
    report = state.result().evaluation
    assert report.unseen is not None and report.unseen.num_examples == 9
    assert report.unseen.name == "test, rows not in train (9 of 12)"
    card = (state.result().push.folder / "README.md").read_text()
    assert "### Test rows that also occur in train" in card and "| test, rows not in train (9 of 12) | 9 |" in card
    # when the overlap's remedy is declared instead, the copies are dropped from test, counted, and said in the card
    spec["validation"]["checks"] = {"overlap": {"action": "drop"}}
    state, _ = run(spec, dry_run=True)
    assert state.is_completed(), state.message
    assert state.result().evaluation.num_examples == 9 and state.result().evaluation.unseen is None
    card = (state.result().push.folder / "README.md").read_text()
    assert "- Overlap: dropped 3 of test (rows that repeat a text of an earlier split" in card
