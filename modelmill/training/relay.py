"""What rank 0 of a torchrun launch prints: the Trainer's callback events as JSON lines, read back by
modelmill.training.events.replay in the train task's process."""

from __future__ import annotations

import json
from typing import Any

from transformers import TrainerCallback

from modelmill.training.events import PREFIX, STATE_FIELDS


class EventRelay(TrainerCallback):
    """Print each progress event with the state it needs, one JSON line each (rank 0 only)."""

    def _emit(self, event: str, state: Any, **extra: Any) -> None:
        payload = {"event": event, "state": {name: getattr(state, name) for name in STATE_FIELDS}, **extra}
        print(PREFIX + json.dumps(payload, default=float), flush=True)

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001 - Trainer's callback signature
        self._emit("on_train_begin", state)

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
        self._emit("on_step_end", state)

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        self._emit("on_log", state, logs=logs or {})

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):  # noqa: ANN001
        self._emit("on_evaluate", state, metrics=metrics or {})

    def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001
        self._emit("on_train_end", state)
