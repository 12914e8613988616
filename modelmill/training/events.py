"""Training progress across processes: rank 0 of a torchrun launch prints the Trainer's callback events as JSON
lines; the train task reads them and replays them into its own callbacks (the progress artifact, the bar)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from transformers import TrainerCallback

PREFIX = "@@modelmill-event "
STATE_FIELDS = ("global_step", "max_steps", "epoch")
EVENTS = ("on_train_begin", "on_step_end", "on_log", "on_evaluate", "on_train_end")


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


def replay(line: str, callbacks: Sequence[TrainerCallback]) -> bool:
    """Deliver one relayed event to `callbacks`; False when `line` is not an event."""
    if not line.startswith(PREFIX):
        return False
    try:
        payload = json.loads(line[len(PREFIX):])
    except ValueError:
        return False
    event = payload.get("event")
    if event not in EVENTS:
        return False
    state = SimpleNamespace(**payload.get("state", {}))
    extra = {key: payload[key] for key in ("logs", "metrics") if key in payload}
    for callback in callbacks:
        getattr(callback, event)(None, state, None, **extra)
    return True
