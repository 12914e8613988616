"""Releases under Hub faults: every fault is retried or refused as it should be, and the server ends with
exactly the commits and tags intended, every file downloadable byte for byte at its tag."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from huggingface_hub import hf_hub_download

from modelmill.errors import PushRejected
from modelmill.spec import PushSpec
from tasks.push import push_model
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


def commit_requests(hub) -> int:
    return sum(1 for method, path in hub.state.requests if method == "POST" and "/commit/" in path)


def test_a_first_release_is_one_commit_tagged_v1(prefect, hub, hub_token, push_inputs, tmp_path):
    result = push(hub, "team/rel", push_inputs)
    repo = hub.state.repos["team/rel"]
    assert (len(repo.commits), repo.tags) == (1, {"v1": repo.head}) and result.tag == "v1" and result.new_commit
    assert_downloads_at(hub, hub_token, "team/rel", "v1", result, tmp_path)


def test_a_commit_whose_answer_was_lost_is_recognised_and_not_repeated(prefect, hub, hub_token, push_inputs, tmp_path):
    hub.state.lose_response("POST", r"/commit/", 502)
    result = push(hub, "team/lost", push_inputs)
    repo = hub.state.repos["team/lost"]
    assert commit_requests(hub) == 1, "the retry saw the commit on the head and did not commit again"
    assert (len(repo.commits), repo.tags) == (1, {"v1": repo.head}) and result.tag == "v1" and result.new_commit
    assert_downloads_at(hub, hub_token, "team/lost", "v1", result, tmp_path)


def test_a_tag_whose_answer_was_lost_is_not_created_twice(prefect, hub, hub_token, push_inputs):
    hub.state.lose_response("POST", r"/tag/", 504)
    result = push(hub, "team/tag", push_inputs)
    repo = hub.state.repos["team/tag"]
    assert (len(repo.commits), list(repo.tags)) == (1, ["v1"]) and result.tag == "v1"


def test_dropped_connections_are_retried_through_the_clients_own_errors(prefect, hub, hub_token, push_inputs, tmp_path):
    hub.state.drop_connection("POST", r"/commit/", times=2)
    result = push(hub, "team/drops", push_inputs)
    repo = hub.state.repos["team/drops"]
    assert commit_requests(hub) == 3 and (len(repo.commits), list(repo.tags)) == (1, ["v1"])
    assert_downloads_at(hub, hub_token, "team/drops", "v1", result, tmp_path)


def test_a_commit_nobody_answers_times_out_and_is_retried(prefect, hub, hub_token, push_inputs, monkeypatch):
    monkeypatch.setenv("MODELMILL_HUB_TIMEOUT", "1")
    hub.state.hang("POST", r"/commit/", seconds=8)
    started = time.monotonic()
    push(hub, "team/hang", push_inputs)
    assert time.monotonic() - started < 7, "the unanswered commit must time out, not hang the run"
    assert len(hub.state.repos["team/hang"].commits) == 1


@pytest.mark.parametrize("status", [401, 403, 404])
def test_refusals_fail_at_once_and_say_what_to_check(prefect, hub, hub_token, push_inputs, status):
    hub.state.fail_next("POST", r"/commit/", status, times=3)
    with pytest.raises(PushRejected, match=rf"HTTP {status}\): check that the token can write"):
        push(hub, "team/refused", push_inputs)
    assert commit_requests(hub) == 1


def test_identical_content_makes_no_commit_and_new_content_is_v2(prefect, hub, hub_token, push_inputs):
    push(hub, "team/again", push_inputs)
    same = push(hub, "team/again", push_inputs)
    repo = hub.state.repos["team/again"]
    assert (len(repo.commits), list(repo.tags)) == (1, ["v1"]) and not same.new_commit and same.tag == "v1"
    changed = {**push_inputs, "description": "A tiny test model, retrained."}
    second = push(hub, "team/again", changed)
    assert (len(repo.commits), sorted(repo.tags)) == (2, ["v1", "v2"]) and second.tag == "v2"
    assert repo.tags["v2"] == repo.head and repo.tags["v1"] == repo.commits[0].oid
