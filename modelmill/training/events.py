"""Training progress across processes: rank 0 of a torchrun launch prints the Trainer's callback events as JSON
lines (modelmill.training.relay); the train task reads them and replays them into its own callbacks (the progress
artifact, the bar). Imports no transformers: the flow's process loads it only when it trains itself."""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import TrainerCallback

PREFIX = "@@modelmill-event "
STATE_FIELDS = ("global_step", "max_steps", "epoch")
EVENTS = ("on_train_begin", "on_step_end", "on_log", "on_evaluate", "on_train_end")


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
