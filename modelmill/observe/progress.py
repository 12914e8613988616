"""Training progress for people: a Prefect progress artifact, an epoch table, one terminal bar."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any
from uuid import UUID

from transformers import TrainerCallback

logger = logging.getLogger("modelmill.train")


REDRAW_SECONDS = 1.0  # at most one redraw of the bar a second, whatever the step rate
FALLBACK_COLUMNS = 0


def terminal_columns(stream: Any) -> int:
    """Columns of the terminal `stream` writes to; 0 when it is no terminal or has no size (a pseudo-terminal
    without one draws no bar: a bar sized to nothing vanishes)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns if stream.isatty() else 0
    except (AttributeError, OSError, ValueError):
        return 0


def epoch_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the per-evaluation rows (epoch, step, train loss, validation metrics)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for row in rows:
        cells = [row.get(column) for column in columns]
        lines.append("| " + " | ".join(f"{c:.4f}" if isinstance(c, float) else str(c or "") for c in cells) + " |")
    return "\n".join(lines)


class TrainingProgress(TrainerCallback):
    """Advances a Prefect progress artifact at each logging step and republishes the epoch table after each
    evaluation; on a terminal with a size, draws one progress bar, redrawn at most once a second (else one log
    line per evaluation: a file, a pipe, a terminal with no size)."""

    def __init__(self, title: str, publish: bool = True, stream: Any = None, log: Any = None) -> None:
        self.title = title
        self.log = log or logger
        self.publish = publish
        self.stream = stream or sys.stderr
        self.rows: list[dict[str, Any]] = []
        self._last_loss: float | None = None
        self._progress_id: UUID | None = None
        self._table_id: UUID | None = None
        self._bar: Any = None

    # Prefect artifacts ------------------------------------------------------------------------------------------

    def _update_progress(self, percent: float) -> None:
        if not self.publish:
            return
        from prefect.artifacts import create_progress_artifact, update_progress_artifact

        if self._progress_id is None:
            self._progress_id = create_progress_artifact(percent, description=f"Training {self.title}")
        else:
            update_progress_artifact(self._progress_id, percent)

    def _update_table(self) -> None:
        if not self.publish:
            return
        from prefect.artifacts import create_markdown_artifact
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.actions import ArtifactUpdate

        markdown = f"## Training {self.title}: evaluation per epoch\n\n{epoch_table(self.rows)}"
        if self._table_id is None:
            self._table_id = create_markdown_artifact(markdown, description=f"Epochs of {self.title}")
        else:
            with get_client(sync_client=True) as client:
                client.update_artifact(self._table_id, ArtifactUpdate(data=markdown))

    # Trainer events ---------------------------------------------------------------------------------------------

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001 - Trainer's callback signature
        self._update_progress(100.0 * state.global_step / max(state.max_steps, 1))
        columns = terminal_columns(self.stream)
        if columns:
            from tqdm import tqdm

            self._bar = tqdm(
                total=state.max_steps, initial=state.global_step, desc=f"train {self.title}", unit="step",
                file=self.stream, ncols=min(columns, 120), mininterval=REDRAW_SECONDS, maxinterval=REDRAW_SECONDS,
                miniters=1,
            )

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
        if self._bar is not None:
            self._bar.update(state.global_step - self._bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        logs = logs or {}
        if "loss" in logs:
            self._last_loss = float(logs["loss"])
            if self._bar is not None:
                self._bar.set_postfix(loss=f"{self._last_loss:.4f}", refresh=False)
        self._update_progress(100.0 * state.global_step / max(state.max_steps, 1))

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):  # noqa: ANN001
        row: dict[str, Any] = {"epoch": f"{round(state.epoch or 0, 2):g}", "step": state.global_step,
                               "train_loss": self._last_loss}
        row.update({k.removeprefix("eval_"): float(v) for k, v in (metrics or {}).items()
                    if k in ("eval_loss", "eval_accuracy")})
        self.rows.append(row)
        self._update_table()
        summary = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())
        if self._bar is not None:
            self._bar.write(f"evaluation: {summary}", file=self.stream)
        else:
            self.log.info("Evaluation of %s: %s", self.title, summary)

    def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001
        self._update_progress(100.0)
        if self._bar is not None:
            self._bar.close()
            self._bar = None
