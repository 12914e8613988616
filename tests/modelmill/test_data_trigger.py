"""`trigger: {on: data}`: what one poll of the watcher decides (pure), the section's checks, the deployment trigger."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from modelmill.config import TriggerSpec
from modelmill.data.identity import data_identity
from modelmill.runtime.data_trigger import CHANGE_LABEL, EVENT, WatchState, decide, deployment_trigger

A = {"data/train.csv": "file:train.csv:aaaa", "data/test.csv": "file:test.csv:tttt"}
B = {**A, "data/train.csv": "file:train.csv:bbbb"}
C = {**A, "data/train.csv": "file:train.csv:cccc"}


def test_the_first_look_is_a_baseline_and_unchanged_data_starts_nothing():
    first = decide(WatchState(), A, now=100, debounce=0)
    assert first.action == "baseline" and first.state.used == data_identity(A)
    again = decide(first.state, dict(reversed(A.items())), now=200, debounce=0)  # the same files, listed otherwise
    assert again.action == "unchanged" and again.state == first.state


def test_a_change_starts_one_run_naming_the_changed_source_and_then_is_the_data_in_use():
    used = decide(WatchState(), A, now=100, debounce=0).state
    change = decide(used, B, now=200, debounce=0)
    assert change.action == "start" and change.changed == ("data/train.csv",)
    assert change.state.used == data_identity(B) and change.state.change
    assert decide(change.state, B, now=300, debounce=0).action == "unchanged"
    # data put back as it was is a change from the data last used: it starts a run, under a new change id
    back = decide(change.state, A, now=400, debounce=0)
    assert back.action == "start" and back.state.change != change.state.change


def test_a_burst_of_changes_within_the_debounce_starts_one_run_once_it_settles():
    state = decide(WatchState(), A, now=0, debounce=60).state
    starts = []
    for now, sources in ((10, B), (30, C), (50, B), (80, B), (100, B), (115, B), (200, B)):
        decision = decide(state, sources, now=now, debounce=60)
        state = decision.state
        starts += [now] if decision.action == "start" else []
        assert decision.action in ("waiting", "start", "unchanged"), decision
    # B was last seen new at 50: it starts at the first poll 60 s later, once
    assert starts == [115]


def test_the_change_id_is_the_same_when_a_poll_is_repeated():
    used = decide(WatchState(), A, now=0, debounce=0).state
    seen = decide(used, B, now=10, debounce=30).state
    twice = [decide(seen, B, now=now, debounce=30).state.change for now in (50, 51)]
    assert twice[0] == twice[1] != ""


def test_two_polls_at_once_announce_one_change_and_data_changing_back_and_forth_is_a_new_change_each_time():
    used = decide(WatchState(), A, now=0, debounce=0).state
    # two polls read the same state a second apart (serve starts overdue polls together)
    together = [decide(used, B, now=now, debounce=0) for now in (10, 11)]
    assert [d.action for d in together] == ["start", "start"] and together[0].state.change == together[1].state.change
    ids = [together[0].state.change]
    state = together[0].state
    for now, sources in ((20, A), (30, B), (40, A)):
        decision = decide(state, sources, now=now, debounce=0)
        state = decision.state
        ids.append(decision.state.change)
    assert len(set(ids)) == 4, "A -> B -> A -> B -> A: four changes, four runs"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("poll", "1s", "poll must be between 5 s and 7 days"),
    ("poll", "5 minutes", "is not a duration"),
    ("poll", "30d", "poll must be between 5 s and 7 days"),
    ("debounce", "99999999999s", "is not a duration"),
    ("debounce", "-1s", "is not a duration"),
])
def test_durations_are_refused_with_their_shape(field, value, message):
    with pytest.raises(ValidationError, match=message):
        TriggerSpec(on="data", **{field: value})


def test_the_deployment_trigger_fires_once_per_change_of_its_pipeline():
    trigger = deployment_trigger("news", {"pipeline": "news", "pipelines_file": "pipelines.yaml"})
    assert trigger.expect == {EVENT} and trigger.for_each == {CHANGE_LABEL}
    assert trigger.match.root == {"prefect.resource.id": "modelmill.data.news"}
    assert trigger.threshold == 1 and trigger.posture == "Reactive"
    assert trigger.parameters["pipeline"] == "news" and "{{ event.payload.change }}" in trigger.parameters["note"]


def test_a_hub_dataset_is_identified_by_the_commit_its_revision_names(hub, hub_token, tmp_path, monkeypatch):
    from huggingface_hub import HfApi, constants

    from modelmill.config import DataSpec
    from modelmill.data.identity import source_identities

    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    api = HfApi(endpoint=hub.url, token=hub_token)
    api.create_repo("tests/reviews", private=True)
    (tmp_path / "train.csv").write_text("text,label\ngood,positive\n")
    first = api.upload_folder(folder_path=tmp_path, repo_id="tests/reviews").oid
    head = DataSpec(hub={"id": "tests/reviews"})
    before = source_identities(head)
    assert before == {"hub:tests/reviews": f"hub:tests/reviews::{first}"}
    (tmp_path / "train.csv").write_text("text,label\ngood,positive\nbad,negative\n")
    api.upload_folder(folder_path=tmp_path, repo_id="tests/reviews")
    assert source_identities(head) != before, "a new commit on the branch is a change"
    assert source_identities(DataSpec(hub={"id": "tests/reviews", "revision": first})) == before, "a pinned one is not"


@pytest.mark.parametrize("run_name", ["../../../escaped", "/etc/passwd", "a/../../b"])
def test_a_run_name_typed_in_the_ui_never_puts_tracking_outside_its_store(run_name, own_home):
    import os

    from modelmill.observe.tracking import store, tracked

    with tracked("tensorboard", "tiny", run_name):
        folder = Path(os.environ["TENSORBOARD_LOGGING_DIR"]).resolve()
    assert folder.parent == (store("tensorboard") / "tiny").resolve() and ".." not in folder.name
