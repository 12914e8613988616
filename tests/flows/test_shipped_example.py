"""The shipped example as the README runs it: `make example` (the `sentiment` pipeline, offline), its re-run (every
stage a cache hit), and the experiment the README suggests, which passes the shipped gates."""

from __future__ import annotations

import re
from pathlib import Path

from modelmill.cli import main

PIPELINES = str(Path(__file__).parents[2] / "pipelines.yaml")


def accuracy(output: str) -> float:
    found = re.search(r"^\| accuracy \| ([0-9.]+) \| >= 0.8 \| pass \|$", output, re.MULTILINE)
    assert found, output[-3000:]
    return float(found.group(1))


def test_make_example_then_its_rerun_then_the_readmes_experiment(prefect, capsys):
    # `make example`: HF_HUB_OFFLINE=1 modelmill run sentiment
    assert main(["run", "sentiment", "-f", PIPELINES]) == 0
    out = capsys.readouterr().out
    assert "Pipeline 'sentiment' succeeded" in out and accuracy(out) >= 0.8
    assert "dry run: the 7 files for modelmill-examples/sentiment-minilm are in" in out
    # run again: every stage is a cache hit
    assert main(["run", "sentiment", "-f", PIPELINES]) == 0
    assert "Cached stages: load_data, validate_data, tokenize, train, evaluate, push" in capsys.readouterr().out
    # the README's experiment passes the shipped gates
    experiment = ["--set", "train.learning_rate=5e-5", "--set", "train.epochs=6"]
    assert main(["run", "sentiment", "-f", PIPELINES, *experiment]) == 0
    assert accuracy(capsys.readouterr().out) >= 0.9
