"""End to end: the flow with a tiny BERT, checked through Prefect task-run states and the loopback Hub."""

from __future__ import annotations

from pathlib import Path

import pytest
from safetensors.torch import load_file

from tests.conftest import pipeline_dict, review_rows, write_csv
from tests.flows.conftest import STAGES


def test_the_flow_fine_tunes_evaluates_and_pushes_through_a_transient_hub_error(
    prefect, run, hub, hub_token, tiny_model_dir: Path, review_files
):
    # given a pipeline that pushes to the loopback Hub, whose first commit answers 503
    hub.state.fail_next("POST", r"/commit/", 503)
    # when the flow runs
    state, stages = run(pipeline_dict(tiny_model_dir, review_files, hub.url))
    summary = state.result()
    # then every stage completed, the push was retried once and landed
    assert state.is_completed(), state.message
    assert stages == {**{stage: "Completed" for stage in STAGES}, "hub_head": "Completed"}
    assert set(summary.evaluation.metrics) >= {"accuracy", "f1"}
    assert not summary.push.dry_run and len(hub.state.repos["tests/tiny-sentiment"].releases) == 1
    # and the weights moved away from the pretrained ones, with label names in the config
    before = load_file(tiny_model_dir / "model.safetensors")
    after = {name.removeprefix("bert."): value for name, value in load_file(summary.model_path / "model.safetensors").items()}
    shared = [name for name in before if name in after]
    assert shared and any(not before[name].equal(after[name]) for name in shared), "training changed no weight"
    config = (summary.model_path / "config.json").read_text()
    assert '"0": "negative"' in config and '"positive": 1' in config


def test_a_rerun_is_all_cache_hits_and_a_new_learning_rate_reruns_only_train_onward(
    prefect, run, tiny_model_dir: Path, review_files
):
    spec = pipeline_dict(tiny_model_dir, review_files)
    _, first = run(spec)
    assert first == {stage: "Completed" for stage in STAGES}
    # nothing changed: every stage is a cache hit
    _, second = run(spec)
    assert second == {stage: "Cached" for stage in STAGES}
    # only train.learning_rate changed: data stages reused, train/evaluate/push re-run
    spec["train"]["learning_rate"] = 1e-3
    _, third = run(spec)
    assert third == {
        "load_data": "Cached", "validate_data": "Cached", "tokenize": "Cached",
        "train": "Completed", "evaluate": "Completed", "push": "Completed",
    }


def test_changed_data_invalidates_the_cache(prefect, run, tiny_model_dir: Path, review_files):
    spec = pipeline_dict(tiny_model_dir, review_files)
    run(spec)
    write_csv(review_files["test"], review_rows(4, 12))
    _, stages = run(spec)
    assert stages["load_data"] == "Completed" and stages["tokenize"] == "Completed"


def test_a_model_below_its_threshold_fails_the_flow_and_pushes_nothing(
    prefect, run, hub, hub_token, tiny_model_dir: Path, review_files
):
    # given a test split where each text appears with both labels: accuracy cannot exceed 0.5
    texts = [row["text"] for row in review_rows(5, 6)]
    write_csv(review_files["test"], [{"text": t, "label": label} for t in texts for label in ("negative", "positive")])
    spec = pipeline_dict(tiny_model_dir, review_files, hub.url)
    spec["evaluate"]["thresholds"] = {"accuracy": {"min": 0.6}}
    # when the flow runs
    state, stages = run(spec)
    # then it fails at evaluate with the metrics table, and the Hub saw nothing
    assert state.is_failed()
    with pytest.raises(Exception, match=r"\| accuracy \| 0\.\d+ \| >= 0.6 \| FAIL \|"):
        state.result()
    assert stages["evaluate"] == "Failed" and "push" not in stages
    assert hub.state.repos == {} and hub.state.requests == []


def test_invalid_data_stops_the_flow_before_training(prefect, run, tiny_model_dir: Path, review_files):
    rows = review_rows(1, 48)
    rows[7]["label"] = "meh"
    write_csv(review_files["train"], rows)
    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["data"]["labels"] = ["negative", "positive", "meh"]
    state, stages = run(spec)
    assert state.is_failed()
    with pytest.raises(Exception, match="expect_column_values_to_be_in_set"):
        state.result()
    assert stages == {"load_data": "Completed", "validate_data": "Failed"}


def test_a_data_error_stops_before_training_and_the_fixed_file_runs_clean(prefect, run, tiny_model_dir, review_files):
    # given a test split with a single class, which only loading the data shows
    write_csv(review_files["test"], [row for row in review_rows(3, 24) if row["label"] == "positive"])
    spec = pipeline_dict(tiny_model_dir, review_files)
    state, stages = run(spec)
    # then the flow fails at load_data with the file and the reason, and nothing is trained
    assert state.is_failed() and stages == {"load_data": "Failed"}
    assert "test.csv: split 'test' holds a single class ['positive']" in state.message
    # and once the file is fixed, the next run starts clean instead of reusing anything of the failed one
    write_csv(review_files["test"], review_rows(3, 12))
    state, stages = run(spec)
    assert state.is_completed() and stages == {stage: "Completed" for stage in STAGES}


def test_a_run_reports_what_each_stage_cost_and_its_price_a_cached_rerun_costs_nothing(
    prefect, run, tiny_model_dir: Path, review_files, monkeypatch
):
    import re
    import time

    from modelmill.storage.run_records import read_records

    monkeypatch.setenv("MODELMILL_PRICE", "36")  # per device-hour: 0.01 per second of a CPU machine
    spec = pipeline_dict(tiny_model_dir, review_files)
    started = time.perf_counter()
    state, _ = run(spec, dry_run=True)
    elapsed = time.perf_counter() - started
    summary = state.result()
    # every stage that worked is measured: wall and CPU seconds, no GPU on this machine, its peak memory
    assert set(summary.costs) == set(STAGES)
    train = summary.costs["train"]
    assert 0 < train.wall_seconds and 0 < train.cpu_seconds and train.gpu_seconds == 0
    assert train.peak_memory_mb > 100, "a process that holds torch and a model"
    assert sum(cost.wall_seconds for cost in summary.costs.values()) <= elapsed
    # the price is wall time times one device (no GPU), per hour
    assert summary.cost == pytest.approx(sum(c.wall_seconds for c in summary.costs.values()) * 36 / 3600, rel=1e-6)
    # shown in the run's record (the dashboard's source) and the card of the release
    record = read_records(pipeline="tiny")[0]
    assert record.figures["cost"] == pytest.approx(summary.cost)
    assert record.figures["costs"]["train"]["cpu_seconds"] == train.cpu_seconds
    card = (summary.push.folder / "README.md").read_text()
    assert re.search(r"Training cost: [\d.]+ s wall, [\d.]+ CPU-s, 0\.0 GPU-s, peak \d+ MiB \([\d.]+ at 36 per "
                     r"device-hour\)", card), card
    # a re-run that finds every stage cached costs nothing
    again = run(spec, dry_run=True)[0].result()
    assert again.costs == {} and again.cost == 0
