"""Training progress on a terminal (one bar) and in a log file (one line per evaluation, no bar fragments)."""

from __future__ import annotations

import io
import logging
from types import SimpleNamespace

from modelmill.observe.progress import TrainingProgress, epoch_table


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def drive(progress: TrainingProgress) -> None:
    """The Trainer's events for 2 epochs of 4 steps, logging every 2 steps."""
    state = SimpleNamespace(global_step=0, max_steps=8, epoch=0.0)
    progress.on_train_begin(None, state, None)
    for step in range(1, 9):
        state.global_step, state.epoch = step, step / 4
        progress.on_step_end(None, state, None)
        if step % 2 == 0:
            progress.on_log(None, state, None, logs={"loss": 1.0 / step})
        if step % 4 == 0:
            progress.on_evaluate(None, state, None, metrics={"eval_loss": 0.5, "eval_accuracy": 0.75, "epoch": 1})
    progress.on_train_end(None, state, None)


def test_a_terminal_gets_one_bar_that_ends_at_the_last_step(monkeypatch):
    monkeypatch.setattr("modelmill.observe.progress.terminal_columns", lambda stream: 100)
    terminal = Terminal()
    drive(TrainingProgress("tiny", publish=False, stream=terminal))
    screen = terminal.getvalue()
    assert "train tiny" in screen and "8/8" in screen
    assert screen.count("evaluation: epoch 1, step 4") == 1 and "accuracy 0.7500" in screen


def test_a_file_gets_one_log_line_per_evaluation_and_no_bar(caplog):
    captured = io.StringIO()
    with caplog.at_level(logging.INFO, logger="modelmill.train"):
        drive(TrainingProgress("tiny", publish=False, stream=captured))
    assert captured.getvalue() == "", "no bar fragments in a file"
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Evaluation of tiny")]
    assert lines == [
        "Evaluation of tiny: epoch 1, step 4, train_loss 0.2500, loss 0.5000, accuracy 0.7500",
        "Evaluation of tiny: epoch 2, step 8, train_loss 0.1250, loss 0.5000, accuracy 0.7500",
    ]


def test_the_epoch_table_is_markdown_with_one_row_per_evaluation():
    table = epoch_table([{"epoch": "1", "loss": 0.5}, {"epoch": "2", "loss": 0.25}])
    assert table.splitlines() == ["| epoch | loss |", "| --- | --- |", "| 1 | 0.5000 |", "| 2 | 0.2500 |"]


def test_the_bar_is_redrawn_at_most_once_a_second_whatever_the_step_rate(monkeypatch):
    # given 300 steps of 0.3 s each (90 s of training) on a clock the test controls
    now = [1000.0]
    monkeypatch.setattr("tqdm.std.time", lambda: now[0])
    monkeypatch.setattr("modelmill.observe.progress.terminal_columns", lambda stream: 100)
    terminal = Terminal()
    progress = TrainingProgress("tiny", publish=False, stream=terminal)
    state = SimpleNamespace(global_step=0, max_steps=300, epoch=0.0)
    progress.on_train_begin(None, state, None)
    for step in range(1, 301):
        now[0] += 0.3
        state.global_step = step
        progress.on_step_end(None, state, None)
        progress.on_log(None, state, None, logs={"loss": 0.5})
    progress.on_train_end(None, state, None)
    # then the bar was drawn about once a second, not once a step, and ends at the last step
    redraws = terminal.getvalue().count("\r")
    assert redraws <= 95, f"{redraws} redraws in 90 s"
    assert "300/300" in terminal.getvalue()


def test_a_terminal_with_no_size_gets_log_lines_not_a_vanishing_bar(caplog):
    terminal = Terminal()  # a terminal whose size cannot be read, as some pseudo-terminals are
    with caplog.at_level(logging.INFO, logger="modelmill.train"):
        drive(TrainingProgress("tiny", publish=False, stream=terminal))
    assert terminal.getvalue() == ""
    assert len([r for r in caplog.records if r.getMessage().startswith("Evaluation of tiny")]) == 2
