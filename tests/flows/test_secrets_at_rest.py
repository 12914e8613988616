"""No Hub token at rest: every way a push (or a read of the Hub) can fail is driven with a canary token, then the
home, PREFECT_HOME, Prefect's results and database (pickles decoded) and the logs are searched for it."""

from __future__ import annotations

import base64
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LEARNS_THE_TASK, SESSION_HOME, pipeline_dict, review_rows, write_jsonl
from tests.patience import patient
from tests.secret_scan import files_holding, holds

CANARY = "hf_CanaryToken7f3c9a1b2d4e6f80"

FAILURES = {
    "401": lambda hub: hub.state.fail_next("POST", r"/commit/", 401, times=10),
    "404": lambda hub: hub.state.fail_next("POST", r"/commit/", 404, times=10),
    "5xx after retries": lambda hub: hub.state.fail_next("POST", r"/commit/", 503, times=10),
    "timeout": lambda hub: hub.state.hang("POST", r"/commit/", seconds=3, times=10),
    "dropped connection": lambda hub: hub.state.drop_connection("POST", r"/commit/", times=10),
    "lost answer": lambda hub: hub.state.lose_response("POST", r"/commit/", 502),
    "head unreadable": lambda hub: hub.state.fail_next("GET", r"/commits/", 401, times=10),
}


def state_folders() -> list[Path]:
    """Everything this test session's runs wrote: the home, PREFECT_HOME, Prefect's storage and database."""
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL

    database = Path(PREFECT_API_DATABASE_CONNECTION_URL.value().split("///", 1)[1]).parent
    folders = [Path(os.environ[name]) for name in ("MODELMILL_HOME", "PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH")]
    return [*folders, SESSION_HOME, database]


@pytest.fixture
def canary(hub, monkeypatch) -> str:
    """The loopback Hub accepts the canary token, which the run gets from HF_TOKEN."""
    hub.state.token = CANARY
    monkeypatch.setenv("HF_TOKEN", CANARY)
    monkeypatch.setenv("MODELMILL_HUB_TIMEOUT", "1")
    return CANARY


def test_the_scan_finds_a_token_inside_a_pickled_client_error():
    """The search below can fail: a pickled Hub client error, base64-encoded as Prefect stores results, gives the
    token away."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    request = httpx2.Request("POST", "http://127.0.0.1/api", headers={"Authorization": f"Bearer {CANARY}"})
    error = HfHubHTTPError("503", response=httpx2.Response(503, request=request))
    assert holds(b'{"data": "' + base64.b64encode(pickle.dumps(error)) + b'"}', CANARY)
    assert holds(base64.encodebytes(pickle.dumps(error)), CANARY), "base64 broken into lines, as Prefect writes it"
    escaped = base64.encodebytes(pickle.dumps(error)).replace(b"\n", b"\\n")
    assert holds(b'{"result": "' + escaped + b'"}', CANARY), "and inside a JSON string"


@pytest.mark.parametrize("failure", list(FAILURES))
def test_no_failure_path_leaves_the_token_on_disk_or_in_the_logs(prefect, run, hub, canary, tiny_model_dir,
                                                                   review_files, capfd, failure):
    spec = pipeline_dict(tiny_model_dir, review_files, hub.url)
    FAILURES[failure](hub)
    state, stages = run(spec)
    if failure == "lost answer":
        assert state.is_completed() and state.result().push.made_commit
    else:
        assert state.is_failed(), state
        assert canary not in (state.message or "")
    out, err = capfd.readouterr()
    assert canary not in out + err
    assert files_holding(canary, *state_folders()) == []


def test_a_token_from_a_secret_block_stays_off_disk_when_the_champion_cannot_be_read(
    prefect, run, hub, canary, tiny_model_dir, review_files, monkeypatch, capfd
):
    from prefect.blocks.system import Secret

    spec = pipeline_dict(tiny_model_dir, review_files, hub.url)
    spec["train"].update(LEARNS_THE_TASK)
    spec["evaluate"]["promote"] = {"metric": "f1"}
    assert run(spec)[0].is_completed()
    # given the token in a Secret block only, and a published model that cannot be downloaded
    monkeypatch.delenv("HF_TOKEN")
    Secret(value=CANARY).save("canary-token", overwrite=True)
    spec["push"]["token_secret_block"] = "canary-token"
    hub.state.fail_next("GET", r"/resolve/", 500, times=30)
    state, stages = run(spec, seed=3)
    assert state.is_failed() and stages["challenge"] == "Failed", stages
    out, err = capfd.readouterr()
    assert CANARY not in out + err
    secret_blocks = [path for path in files_holding(CANARY, *state_folders()) if path.suffix == ".db"]
    assert files_holding(CANARY, *state_folders()) == secret_blocks, "only Prefect's block store holds it"


def test_a_fill_mask_champion_that_cannot_be_read_leaves_the_token_nowhere(prefect, run, hub, canary, tiny_model_dir,
                                                                             tmp_path, capfd):
    # every task type reads its champion the same way; here a fill-mask pipeline's, the token in HF_TOKEN
    texts = {split: write_jsonl(tmp_path / f"{split}.jsonl", [{"text": row["text"]} for row in review_rows(seed, 16)])
             for seed, split in enumerate(("train", "validation", "test"))}
    spec = pipeline_dict(tiny_model_dir, texts, hub.url)
    spec.update(task="fill-mask", data={"files": {split: str(path) for split, path in texts.items()}},
                validation={"expectations": []}, evaluate={"promote": {"metric": "perplexity"}})
    assert run(spec)[0].is_completed()
    hub.state.fail_next("GET", r"/resolve/", 500, times=30)
    state, stages = run(spec)  # the same model, cached; main moved (its own release): the champion is read again
    assert state.is_failed() and stages["train"] == "Cached" and stages["challenge"] == "Failed", stages
    assert canary not in (state.message or "")
    out, err = capfd.readouterr()
    assert canary not in out + err
    assert files_holding(canary, *state_folders()) == []


def test_a_cli_run_whose_push_fails_leaves_the_token_nowhere(hub, canary, tiny_model_dir, review_files,
                                                             write_pipelines, tmp_path):
    # given `modelmill run` with its temporary server, its own PREFECT_HOME and home, and a Hub answering 503
    path = write_pipelines({"tiny": pipeline_dict(tiny_model_dir, review_files, hub.url)})
    hub.state.fail_next("POST", r"/commit/", 503, times=10)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env.update(HF_HUB_OFFLINE="0", PREFECT_HOME=str(tmp_path / "prefect-home"), MODELMILL_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-m", "modelmill.cli", "run", "tiny", "-f", str(path)], env=env,
                          capture_output=True, text=True, timeout=patient(600), cwd=tmp_path)
    # then it fails with the Hub's reason, and the token is in no file and no line it printed
    assert done.returncode == 1, done.stdout + done.stderr
    assert "HubUnavailable" in done.stderr and "HTTP 503" in done.stderr
    assert CANARY not in done.stdout + done.stderr
    assert list((tmp_path / "home" / "prefect-results").iterdir()), "the failed run's results are under the home"
    assert files_holding(CANARY, tmp_path) == []


@pytest.fixture(params=["pickle", "tblib"])
def exception_pickling(request) -> Iterator[str]:
    """Plain pickling, and pickling with tblib's support, which keeps an exception's cause and context (Dask's
    distributed installs it in every process that imports it); the registry pickle reads is restored after."""
    import copyreg

    saved = dict(copyreg.dispatch_table)
    if request.param == "tblib":
        from tblib import pickling_support

        pickling_support.install()
    yield request.param
    copyreg.dispatch_table.clear()
    copyreg.dispatch_table.update(saved)


def test_a_library_error_holding_the_request_is_stored_without_it(exception_pickling):
    """Loading a model, a tokenizer or a dataset by Hub id uses the environment's token; an error that holds the
    HTTP exchange leaves the loading code without it (neither inside nor chained), any other error as it was."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    from modelmill.hub.errors import HubRefused, secret_safe

    request = httpx2.Request("GET", "http://127.0.0.1/api/models/x", headers={"Authorization": f"Bearer {CANARY}"})
    with pytest.raises(HubRefused) as refused, secret_safe("http://127.0.0.1", "acme/gated"):
        raise HfHubHTTPError("401 gated", response=httpx2.Response(401, request=request))
    assert not holds(pickle.dumps(refused.value), CANARY) and refused.value.status == 401
    with pytest.raises(KeyError), secret_safe("http://127.0.0.1", "acme/x"):
        raise KeyError("not an HTTP error: left as it is")


def chained(exc: BaseException) -> list[BaseException]:
    """What the interpreter itself keeps linked to `exc` and prints under it (its C fields, read through
    BaseException's own descriptors: a subclass's properties cannot hide them): the cause, and the context unless it
    is suppressed."""
    cause = BaseException.__dict__["__cause__"].__get__(exc)
    context = BaseException.__dict__["__context__"].__get__(exc)
    return [link for link in (cause, None if exc.__suppress_context__ else context) if link is not None]


@pytest.mark.parametrize("status", [401, 404, 412, 503])
@pytest.mark.parametrize("guard", ["hub_errors", "secret_safe"])
def test_a_sanitised_hub_error_has_no_cause_or_context(guard, status):
    """`raise ... from exc` (or a bare raise inside the handler) would link the client error, request and token
    included, to the error users and tracebacks see; both guards must cut it."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    from modelmill.hub import errors

    request = httpx2.Request("POST", "http://127.0.0.1/api/models/x/commit/main",
                             headers={"Authorization": f"Bearer {CANARY}"})
    sanitising = (errors.hub_errors("http://127.0.0.1", "acme/x", CANARY) if guard == "hub_errors"
                  else errors.secret_safe("http://127.0.0.1", "acme/x"))
    with pytest.raises(errors.ModelmillError) as raised, sanitising:
        raise HfHubHTTPError(f"{status} refused", response=httpx2.Response(status, request=request))
    assert chained(raised.value) == [], f"{type(raised.value).__name__} keeps {chained(raised.value)!r}"
    assert CANARY not in str(raised.value)


@pytest.mark.parametrize("failure", ["adapter push refused", "adapter champion unreadable"])
def test_an_adapters_failed_release_or_champion_read_leaves_the_token_nowhere(prefect, run, hub, canary,
                                                                              tiny_model_dir, review_files, capfd,
                                                                              failure):
    spec = pipeline_dict(tiny_model_dir, review_files, hub.url)
    spec["train"]["adapter"] = {"r": 4, "alpha": 8}
    if failure == "adapter push refused":
        hub.state.fail_next("POST", r"/commit/", 401, times=10)
        state, stages = run(spec)
        assert state.is_failed() and stages["push"] == "Failed", stages
    else:
        spec["evaluate"]["promote"] = {"metric": "accuracy"}
        assert run(spec)[0].is_completed()  # an adapter released: the next run reads it as its champion
        hub.state.fail_next("GET", r"/resolve/", 500, times=30)
        state, stages = run(spec)
        assert state.is_failed() and stages["challenge"] == "Failed", stages
    assert canary not in (state.message or "")
    out, err = capfd.readouterr()
    assert canary not in out + err
    assert files_holding(canary, *state_folders()) == []


def test_a_data_watcher_whose_hub_dataset_cannot_be_read_leaves_the_token_nowhere(
    prefect, hub, canary, tiny_model_dir, review_files, write_pipelines, monkeypatch, capfd
):
    from huggingface_hub import constants

    from flows.watch import watch_data

    # given a pipeline that retrains when its Hub dataset changes, and a Hub refusing the token (401)
    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    spec = pipeline_dict(tiny_model_dir, review_files, hub.url)
    spec.update(data={"hub": {"id": "tests/reviews"}}, trigger={"on": "data", "poll": "1m"})
    spec.pop("schedule", None)
    path = write_pipelines({"watched": spec})
    hub.state.fail_next("GET", r"/api/datasets/", 401, times=10)
    # when the watcher polls
    state = watch_data(pipeline="watched", pipelines_file=str(path), return_state=True)
    # then the poll fails, saying so, and the token is in none of its state, logs or results
    assert state.is_failed() and "401" in (state.message or ""), state
    assert canary not in (state.message or "")
    out, err = capfd.readouterr()
    assert canary not in out + err
    assert files_holding(canary, *state_folders()) == []
