"""Releases under Hub faults: every fault is retried or refused as it should be, and the server ends with
exactly the commits and tags intended, every file downloadable byte for byte at its tag."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from huggingface_hub import hf_hub_download

from modelmill.config import PushSpec
from modelmill.hub.errors import HeadMoved
from modelmill.manifests import ModelManifest
from modelmill.runtime.errors import PushRejected
from tasks.push import push_model
from tests.patience import patient
from tests.tasks.test_push import push_inputs  # noqa: F401 - the shared push fixture

RETRYING = {"retries": 2, "retry_delay_seconds": 0}


def push(hub, repo: str, inputs: dict):
    """Run the push task (never from its cache: each call really talks to the Hub)."""
    task = push_model.with_options(**RETRYING, refresh_cache=True)
    return task(spec=PushSpec(repo_id=repo, endpoint=hub.url), **inputs)


def assert_downloads_at(hub, token: str, repo: str, revision: str, result, tmp_path: Path) -> None:
    for name in result.files:
        local = hf_hub_download(repo, name, revision=revision, endpoint=hub.url, token=token, cache_dir=tmp_path / "dl")
        assert Path(local).read_bytes() == (result.folder / name).read_bytes(), name


def retrained(model: ModelManifest, tmp_path: Path) -> ModelManifest:
    """Another model: a copy of `model` whose config differs."""
    folder = tmp_path / "retrained"
    shutil.copytree(model.path, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "initializer_range": 0.5}))
    return model.model_copy(update={"path": folder, "key": "m2"})


def commit_requests(hub) -> int:
    return sum(1 for method, path in hub.state.requests if method == "POST" and "/commit/" in path)


def test_a_first_release_is_one_commit_tagged_v1(prefect, hub, hub_token, push_inputs, tmp_path):
    result = push(hub, "team/rel", push_inputs)
    repo = hub.state.repos["team/rel"]
    assert (len(repo.releases), repo.tags) == (1, {"v1": repo.head}) and result.tag == "v1" and result.made_commit
    assert_downloads_at(hub, hub_token, "team/rel", "v1", result, tmp_path)


def test_a_commit_whose_answer_was_lost_is_recognised_and_not_repeated(prefect, hub, hub_token, push_inputs, tmp_path):
    hub.state.lose_response("POST", r"/commit/", 502)
    result = push(hub, "team/lost", push_inputs)
    repo = hub.state.repos["team/lost"]
    assert commit_requests(hub) == 1, "the retry saw the commit on the head and did not commit again"
    assert (len(repo.releases), repo.tags) == (1, {"v1": repo.head}) and result.tag == "v1" and result.made_commit
    assert_downloads_at(hub, hub_token, "team/lost", "v1", result, tmp_path)


def test_a_tag_whose_answer_was_lost_is_not_created_twice(prefect, hub, hub_token, push_inputs):
    hub.state.lose_response("POST", r"/tag/", 504)
    result = push(hub, "team/tag", push_inputs)
    repo = hub.state.repos["team/tag"]
    assert (len(repo.releases), list(repo.tags)) == (1, ["v1"]) and result.tag == "v1"
    assert result.made_tag and result.outcome.startswith("released team/tag v1: "), "this run made it: it says so"


def test_dropped_connections_are_retried_through_the_clients_own_errors(prefect, hub, hub_token, push_inputs, tmp_path):
    hub.state.drop_connection("POST", r"/commit/", times=2)
    result = push(hub, "team/drops", push_inputs)
    repo = hub.state.repos["team/drops"]
    assert commit_requests(hub) == 3 and (len(repo.releases), list(repo.tags)) == (1, ["v1"])
    assert_downloads_at(hub, hub_token, "team/drops", "v1", result, tmp_path)


def test_a_commit_nobody_answers_times_out_and_is_retried(prefect, hub, hub_token, push_inputs, monkeypatch):
    monkeypatch.setenv("MODELMILL_HUB_TIMEOUT", "1")
    hang = hub.state.hang("POST", r"/commit/", seconds=120)
    push(hub, "team/hang", push_inputs)
    assert hang.done.is_set(), "the unanswered commit must time out (the client hangs up), not wait for the Hub"
    assert commit_requests(hub) == 2 and len(hub.state.repos["team/hang"].releases) == 1


@pytest.mark.parametrize("status", [401, 403, 404])
def test_refusals_fail_at_once_and_say_what_to_check(prefect, hub, hub_token, push_inputs, status):
    hub.state.fail_next("POST", r"/commit/", status, times=3)
    with pytest.raises(PushRejected, match=rf"HTTP {status}\): check that the token can write"):
        push(hub, "team/refused", push_inputs)
    assert commit_requests(hub) == 1


def test_an_identical_model_makes_no_commit_even_with_another_card_and_a_new_model_is_v2(
    prefect, hub, hub_token, push_inputs, tmp_path
):
    push(hub, "team/again", push_inputs)
    same = push(hub, "team/again", {**push_inputs, "description": "The same tiny model, described anew."})
    repo = hub.state.repos["team/again"]
    assert (len(repo.releases), list(repo.tags)) == (1, ["v1"]) and not same.made_commit and same.tag == "v1"
    assert same.outcome == "team/again already holds this exact model as v1: no commit, no tag"
    second = push(hub, "team/again", {**push_inputs, "model": retrained(push_inputs["model"], tmp_path)})
    assert (len(repo.releases), sorted(repo.tags)) == (2, ["v1", "v2"]) and second.tag == "v2"
    assert repo.tags["v2"] == repo.head and repo.tags["v1"] == repo.releases[0].oid
    assert second.made_commit and second.outcome.startswith("released team/again v2: ")


def test_an_old_model_released_before_is_not_published_over_a_later_release_unless_compared(
    prefect, hub, hub_token, push_inputs, tmp_path
):
    """The rule without evaluate.promote: re-running an old, unchanged configuration after a later release landed
    does not roll main back; with a champion comparison (promote), the comparison decides."""
    from modelmill.hub.promotion import Promotion

    # given v1 (this model), then v2 (a retrained one) at the head
    push(hub, "team/rerun", push_inputs)
    push(hub, "team/rerun", {**push_inputs, "model": retrained(push_inputs["model"], tmp_path)})
    repo = hub.state.repos["team/rerun"]
    # when the first configuration runs again and passes its gates (no comparison)
    again = push(hub, "team/rerun", push_inputs)
    # then nothing is committed or tagged: the run says it was v1 and that main serves v2
    assert (len(repo.releases), sorted(repo.tags)) == (2, ["v1", "v2"]) and repo.tags["v2"] == repo.head
    assert not again.made_commit and not again.made_tag and again.tag == "v1"
    assert again.outcome.startswith("team/rerun released this exact model as v1 before; main now serves v2")
    # a comparison that promoted it publishes it again, as v3
    compared = push_inputs["evaluation"].model_copy(update={"promotion": Promotion(promoted=True, reason="better")})
    promoted = push(hub, "team/rerun", {**push_inputs, "evaluation": compared})
    assert promoted.made_commit and promoted.tag == "v3" and repo.tags["v3"] == repo.head


def test_a_commit_the_hub_applies_late_after_the_client_timed_out_leaves_one_commit_tagged_at_head(
    prefect, hub, hub_token, push_inputs, monkeypatch
):
    # given a Hub that applies the first commit 4 s after it arrived, when its client (1 s timeout) gave up
    monkeypatch.setenv("MODELMILL_HUB_TIMEOUT", "1")
    late = hub.state.apply_late("POST", r"/commit/", seconds=4)
    # when the push times out and its retry commits
    result = push(hub, "team/late", push_inputs)
    assert late.done.wait(timeout=patient(60)), "the late commit was never applied"
    # then the late commit named a parent that is no longer the head, and was refused: one commit, tagged, at head
    repo = hub.state.repos["team/late"]
    assert commit_requests(hub) == 2
    assert (len(repo.releases), repo.tags) == (1, {"v1": repo.head}) and result.tag == "v1" and result.made_commit


def test_a_commit_on_a_head_that_moved_is_refused_by_the_hub_and_overwrites_nothing(prefect, hub, hub_token,
                                                                                    push_inputs, tmp_path):
    push(hub, "team/raced", push_inputs)
    repo = hub.state.repos["team/raced"]
    # given another publisher whose commit lands between our reading of main and our commit
    hub.state.before_next("POST", r"/commit/", lambda state: repo.append("someone else", "", dict(repo.files)))
    # when a new model is pushed, then the Hub refuses its commit (its parent is not the head any more)
    with pytest.raises(HeadMoved, match=r"main moved while publishing \(HTTP 412"):
        push(hub, "team/raced", {**push_inputs, "model": retrained(push_inputs["model"], tmp_path)})
    # and their commit stays the head: ours was never made, nothing was tagged
    assert [commit.title for commit in repo.releases] == ["modelmill: fine-tuned model", "someone else"]
    assert list(repo.tags) == ["v1"]


def test_a_release_decided_against_another_head_is_not_made(prefect, hub, hub_token, push_inputs, tmp_path):
    from modelmill.hub.head import HubHead

    push(hub, "team/stale", push_inputs)
    repo = hub.state.repos["team/stale"]
    # given a decision taken when nothing was published (v1 landed since)
    nothing_yet = HubHead(repo_id="team/stale", oid=repo.commits[0].oid, has_model=False)
    with pytest.raises(HeadMoved, match="main now holds commit .* decided against no published model"):
        push(hub, "team/stale", {**push_inputs, "model": retrained(push_inputs["model"], tmp_path),
                                 "head": nothing_yet})
    assert len(repo.releases) == 1 and list(repo.tags) == ["v1"]
