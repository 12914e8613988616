"""Trainer checkpoints a run can resume from: only complete ones; what a killed save left behind is removed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

PREFIX_CHECKPOINT_DIR = "checkpoint"  # transformers.trainer_utils.PREFIX_CHECKPOINT_DIR
STATE_FILE = "trainer_state.json"  # the Trainer writes it last, after weights, optimizer, scheduler and RNG state
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "adapter_model.safetensors")  # a LoRA training checkpoints its adapter alone


def is_complete(checkpoint: Path) -> bool:
    """True when the checkpoint's weights exist and its trainer state was written in full."""
    try:
        json.loads((checkpoint / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any((checkpoint / name).is_file() for name in WEIGHT_FILES)


def _step(checkpoint: Path) -> int:
    suffix = checkpoint.name.removeprefix(f"{PREFIX_CHECKPOINT_DIR}-")
    return int(suffix) if suffix.isdigit() else -1


def last_complete_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint in `folder`; incomplete ones (a save cut short) are deleted."""
    if not folder.is_dir():
        return None
    found = sorted((p for p in folder.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if _step(p) >= 0 and p.is_dir()), key=_step)
    for checkpoint in [p for p in found if not is_complete(p)]:
        shutil.rmtree(checkpoint, ignore_errors=True)
    complete = [p for p in found if p.exists()]
    return complete[-1] if complete else None


def best_checkpoint(checkpoint: Path) -> str | None:
    """The folder name of the best checkpoint the trainer state of `checkpoint` names (None: none yet, or a name
    that is no checkpoint folder: a state read from the bucket names a file here only as `checkpoint-<step>`)."""
    state = json.loads((checkpoint / STATE_FILE).read_text(encoding="utf-8"))
    best = state.get("best_model_checkpoint")
    name = Path(best).name if isinstance(best, str) else ""
    return name if re.fullmatch(rf"{PREFIX_CHECKPOINT_DIR}-[0-9]+", name) else None


def name_best_checkpoint(checkpoint: Path, best: str | Path | None) -> None:
    """Rewrite the trainer state of `checkpoint` to name `best` as its best checkpoint: by folder name alone in
    a checkpoint that leaves this machine (another machine's absolute path means nothing there), by this
    machine's path in one a training resumes from."""
    path = checkpoint / STATE_FILE
    state = json.loads(path.read_text(encoding="utf-8"))
    if state.get("best_model_checkpoint") is None:
        return
    state["best_model_checkpoint"] = None if best is None else str(best)
    scratch = path.with_name(f".{STATE_FILE}.tmp")
    scratch.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    scratch.replace(path)
