"""The shipped example as the README runs it: `make example` (the `sentiment` pipeline, offline) and its re-run
(every stage a cache hit). The experiment the README suggests is measured there, not here: a third training of the
real model would cost the suite most of a minute."""

from __future__ import annotations

import re
from pathlib import Path

from modelmill.cli import main

PIPELINES = str(Path(__file__).parents[2] / "pipelines.yaml")


def accuracy(output: str) -> float:
    found = re.search(r"^\| accuracy \| ([0-9.]+) \| >= 0.8 \| pass \|$", output, re.MULTILINE)
    assert found, output[-3000:]
    return float(found.group(1))


def test_make_example_then_its_rerun(prefect, capsys):
    # `make example`: HF_HUB_OFFLINE=1 modelmill run sentiment
    assert main(["run", "sentiment", "-f", PIPELINES]) == 0
    out = capsys.readouterr().out
    assert "Pipeline 'sentiment' succeeded" in out and accuracy(out) >= 0.8
    assert "dry run: the 7 files for modelmill-examples/sentiment-minilm are in" in out
    # run again: every stage is a cache hit
    assert main(["run", "sentiment", "-f", PIPELINES]) == 0
    assert "Cached stages: load_data, validate_data, tokenize, train, evaluate, push" in capsys.readouterr().out
