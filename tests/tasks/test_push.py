"""Push: one commit to a Hub-compatible server, byte-exact round trip, dry run, errors and retries."""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download

from modelmill.runtime.errors import PushRejected
from modelmill.manifests import DataManifest, EvaluationReport, MetricCheck, ModelManifest, ValidationReport
from modelmill.runtime.retry import is_transient_error
from modelmill.config import PushSpec
from tasks.push import push_model


@pytest.fixture
def push_inputs(tiny_model_dir: Path) -> dict:
    return {
        "pipeline": "tiny",
        "description": "A tiny test model.",
        "model": ModelManifest(
            key="m1", path=tiny_model_dir, base_model=str(tiny_model_dir), labels=["negative", "positive"],
            device="cpu", training_arguments={"learning_rate": 0.005}, train_loss=0.5,
        ),
        "evaluation": EvaluationReport(
            key="e1", metrics={"accuracy": 0.75}, checks=[MetricCheck(metric="accuracy", value=0.75, min=0.5)],
            num_examples=12,
        ),
        "data": DataManifest(
            key="d1", path=tiny_model_dir, fingerprint="abc", labels=["negative", "positive"],
            label_ids={"negative": 0, "positive": 1}, text_column="text", label_column="label",
            num_rows={"train": 48, "validation": 12, "test": 12}, source="/secret/home/train.csv",
        ),
        "validation": ValidationReport(checked=4),
    }


def test_push_uploads_every_file_in_one_commit_and_they_download_byte_for_byte(prefect, hub, hub_token, push_inputs):
    # given a model and a Hub token
    spec = PushSpec(repo_id="team/tiny", endpoint=hub.url)
    # when the push task runs
    result = push_model(spec=spec, **push_inputs)
    # then one commit holds model, tokenizer and card, and each file comes back identical
    assert not result.dry_run and result.commit_oid
    repo = hub.state.repos["team/tiny"]
    assert len(repo.releases) == 1
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md"} <= set(result.files)
    assert repo.files["model.safetensors"].lfs, "model weights must go through git-LFS"
    assert any(method == "PUT" and path.startswith("/lfs-upload/") for method, path in hub.state.requests)
    api = HfApi(endpoint=hub.url, token=hub_token)
    assert sorted(set(api.list_repo_files("team/tiny")) - {".gitattributes"}) == result.files
    for name in result.files:
        downloaded = hf_hub_download("team/tiny", name, endpoint=hub.url, token=hub_token, local_files_only=False,
                                     cache_dir=result.folder.parent / "download-cache")
        assert Path(downloaded).read_bytes() == (result.folder / name).read_bytes(), name


def test_model_card_has_metrics_and_no_token_or_local_paths(prefect, hub, hub_token, push_inputs):
    result = push_model(spec=PushSpec(repo_id="team/card", endpoint=hub.url), **push_inputs)
    card = (result.folder / "README.md").read_text()
    assert "model-index" in card and "accuracy" in card and "0.75" in card
    assert hub_token not in card
    assert "/secret/home" not in card and str(push_inputs["model"].path.parent) not in card, "no local path"
    assert "a local model folder named 'tiny-bert0'" in card
    assert "training_args.bin" not in result.files


def test_without_a_token_the_push_is_a_dry_run_that_writes_the_files(prefect, hub, push_inputs):
    # given no HF_TOKEN and no secret block
    result = push_model(spec=PushSpec(repo_id="team/dry", endpoint=hub.url), **push_inputs)
    # then nothing reached the server, and the exact upload folder is on disk
    assert result.dry_run
    assert hub.state.requests == []
    assert (result.folder / "model.safetensors").is_file() and (result.folder / "README.md").is_file()


def test_a_rejected_token_fails_without_retrying(prefect, hub, monkeypatch, push_inputs):
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_token")
    with pytest.raises(PushRejected, match="HTTP 401"):
        push_model(spec=PushSpec(repo_id="team/denied", endpoint=hub.url), **push_inputs)
    assert [r for r in hub.state.requests if r[1] == "/api/repos/create"] == [("POST", "/api/repos/create")]


def test_a_transient_server_error_is_retried_and_the_push_succeeds(prefect, hub, hub_token, push_inputs):
    # given a server that answers the first commit with 503
    hub.state.fail_next("POST", r"/commit/", 503)
    task = push_model.with_options(retries=2, retry_delay_seconds=0)
    # when the push runs with retries
    result = task(spec=PushSpec(repo_id="team/flaky", endpoint=hub.url), **push_inputs)
    # then the second attempt lands one commit
    assert not result.dry_run
    assert len(hub.state.repos["team/flaky"].releases) == 1
    assert sum(1 for method, path in hub.state.requests if method == "POST" and "/commit/" in path) == 2


@pytest.mark.parametrize(("status", "transient"), [(429, True), (500, True), (503, True), (401, False), (404, False)])
def test_http_errors_are_classified_by_status(status, transient):
    import httpx
    from huggingface_hub.errors import HfHubHTTPError

    response = httpx.Response(status, request=httpx.Request("POST", "http://127.0.0.1/api"))
    assert is_transient_error(HfHubHTTPError("boom", response=response)) is transient


def test_the_token_can_come_from_a_prefect_secret_block(prefect, hub, push_inputs):
    # given no HF_TOKEN but a Secret block holding the token, named in push.token_secret_block
    from prefect.blocks.system import Secret

    Secret(value=hub.state.token).save("loopback-hub-token", overwrite=True)
    spec = PushSpec(repo_id="team/from-block", endpoint=hub.url, token_secret_block="loopback-hub-token")
    # when the push runs, then it authenticates with the block's token
    result = push_model(spec=spec, **push_inputs)
    assert not result.dry_run and len(hub.state.repos["team/from-block"].releases) == 1


def test_a_missing_secret_block_is_a_config_error(prefect, hub, push_inputs):
    from modelmill.runtime.errors import ConfigError

    spec = PushSpec(repo_id="team/no-block", endpoint=hub.url, token_secret_block="does-not-exist")
    with pytest.raises(ConfigError, match="push.token_secret_block: cannot load Prefect Secret block 'does-not-exist'"):
        push_model(spec=spec, **push_inputs)


def test_a_model_that_no_threshold_gated_says_so_in_its_card(prefect, hub, push_inputs):
    ungated = push_inputs["evaluation"].model_copy(update={"checks": []})
    result = push_model(spec=PushSpec(repo_id="team/ungated", endpoint=hub.url), **{**push_inputs, "evaluation": ungated})
    assert "nothing but the baseline gate checked this model" in (result.folder / "README.md").read_text()


def test_offline_mode_with_a_token_is_an_immediate_dry_run_not_a_retried_network_error(prefect, hub, hub_token,
                                                                                          push_inputs, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    result = push_model(spec=PushSpec(repo_id="team/offline", endpoint=hub.url), **push_inputs)
    assert result.dry_run and hub.state.requests == []


def test_the_upload_folder_links_the_trained_files_instead_of_copying_them(prefect, push_inputs):
    result = push_model(spec=PushSpec(repo_id="team/linked", endpoint="http://127.0.0.1:9"), **push_inputs)
    weights = result.folder / "model.safetensors"
    trained = push_inputs["model"].path / "model.safetensors"
    assert weights.stat().st_ino == trained.stat().st_ino and weights.stat().st_nlink >= 2, "no copy of the weights"
    assert (result.folder / "README.md").stat().st_nlink == 1


def test_a_loss_that_was_never_logged_is_unknown_in_the_card_not_zero(prefect, push_inputs):
    unlogged = push_inputs["model"].model_copy(update={"train_loss": None})
    result = push_model(spec=PushSpec(repo_id="team/unlogged", endpoint="http://127.0.0.1:9"),
                        **{**push_inputs, "model": unlogged})
    card = (result.folder / "README.md").read_text()
    assert "Mean train loss over the whole training: unknown (no logging step was reached" in card
    assert "0.0000" not in card.split("Mean train loss")[1][:40]
