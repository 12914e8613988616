"""Where a deployment's runs start on a worker's host: the declared project root, else the folder the worker was
started in; a clear error when neither holds the pipelines file."""

from __future__ import annotations

import os

import pytest

from modelmill.runtime.errors import ConfigError
from modelmill.runtime.project import enter_project


def test_the_declared_root_wins_then_the_workers_folder(tmp_path, monkeypatch):
    declared, started = tmp_path / "declared", tmp_path / "started"
    for folder in (declared, started):
        folder.mkdir()
        (folder / "pipelines.yaml").write_text("pipelines: {}\n")
    monkeypatch.chdir(tmp_path)  # a process worker runs flows in a folder of its own
    monkeypatch.setenv("PWD", str(started))
    monkeypatch.setenv("MODELMILL_PROJECT_ROOT", str(declared))
    assert enter_project() == {"directory": str(declared)} and os.getcwd() == str(declared)
    monkeypatch.delenv("MODELMILL_PROJECT_ROOT")
    assert enter_project() == {"directory": str(started)}


def test_no_pipelines_file_anywhere_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PWD", str(tmp_path))
    monkeypatch.delenv("MODELMILL_PROJECT_ROOT", raising=False)
    with pytest.raises(ConfigError, match="start the worker in the project folder, or set MODELMILL_PROJECT_ROOT"):
        enter_project()
