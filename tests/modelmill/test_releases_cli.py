"""`modelmill releases` and `modelmill rollback` against the loopback Hub."""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import EvalResult, HfApi, ModelCard, ModelCardData, hf_hub_download

from modelmill.cli import main
from modelmill.hub.releases import publish_release
from tests.conftest import pipeline_dict


def release(api: HfApi, folder: Path, weights: bytes, accuracy: float) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "config.json").write_text("{}")
    data = ModelCardData(model_name="tests/tiny-sentiment", eval_results=[EvalResult(
        task_type="text-classification", dataset_type="t", dataset_name="t", metric_type="accuracy",
        metric_value=accuracy)])
    ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n\n# tiny\n").save(folder / "README.md")
    return publish_release(api, "tests/tiny-sentiment", folder, weights.hex(), "release", True).tag


@pytest.fixture
def two_releases(hub, hub_token, tmp_path, write_pipelines, tiny_model_dir, review_files):
    api = HfApi(endpoint=hub.url, token=hub_token)
    assert release(api, tmp_path / "r1", b"first weights", 0.81) == "v1"
    assert release(api, tmp_path / "r2", b"second weights", 0.92) == "v2"
    return write_pipelines({"tiny": pipeline_dict(tiny_model_dir, review_files, hub.url)})


def test_releases_lists_tags_with_date_commit_and_metrics(two_releases, capsys):
    assert main(["releases", "tiny", "-f", str(two_releases)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[0] == "v2" and "accuracy 0.9200" in lines[1] and lines[1].endswith("<- head")
    assert lines[2].split()[0] == "v1" and "accuracy 0.8100" in lines[2]


def test_rollback_republishes_a_release_as_a_new_head_after_confirming(two_releases, hub, hub_token, tmp_path,
                                                                        monkeypatch, capsys):
    repo = hub.state.repos["tests/tiny-sentiment"]
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["rollback", "tiny", "v1", "-f", str(two_releases)]) == 1 and len(repo.releases) == 2
    assert "Nothing changed" in capsys.readouterr().out
    assert main(["rollback", "tiny", "v1", "--yes", "-f", str(two_releases)]) == 0
    assert len(repo.releases) == 3 and sorted(repo.tags) == ["v1", "v2"], "a new commit, no new tag"
    head = Path(hf_hub_download("tests/tiny-sentiment", "model.safetensors", endpoint=hub.url, token=hub_token,
                                cache_dir=tmp_path / "dl"))
    assert head.read_bytes() == b"first weights"
    assert "Rolled back to v1" in repo.files["README.md"].content.decode()
    assert main(["rollback", "tiny", "v9", "--yes", "-f", str(two_releases)]) == 1
    assert "has no release 'v9'" in capsys.readouterr().err


def test_rollback_without_a_terminal_or_yes_refuses_cleanly(two_releases, hub, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("nobody is there to answer"))
    assert main(["rollback", "tiny", "v1", "-f", str(two_releases)]) == 1
    err = capsys.readouterr().err
    assert "needs a confirmation and there is no terminal to ask in: pass --yes" in err and "Traceback" not in err
    assert len(hub.state.repos["tests/tiny-sentiment"].releases) == 2


def test_releases_marks_the_release_a_rollback_brought_back_as_the_head(two_releases, monkeypatch, capsys):
    assert main(["rollback", "tiny", "v1", "--yes", "-f", str(two_releases)]) == 0
    capsys.readouterr()
    assert main(["releases", "tiny", "-f", str(two_releases)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[0] == "v2" and "<- head" not in lines[1]
    assert lines[2].split()[0] == "v1" and "<- head (rolled back, commit " in lines[2]
