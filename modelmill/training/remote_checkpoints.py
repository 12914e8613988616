"""Checkpoints that follow the run: with a remote home, each checkpoint the Trainer saves is uploaded (rank 0
only), its completion marker last, and a retry on any machine resumes from the newest complete uploaded one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from modelmill.storage.checkpoints import (
    PREFIX_CHECKPOINT_DIR,
    best_checkpoint,
    is_complete,
    last_complete_checkpoint,
    name_best_checkpoint,
)
from modelmill.storage.home import COMPLETE, Home, current_home

KEPT = 2  # uploaded checkpoints kept per training key (like the Trainer's save_total_limit)


def remote_folder(key: str) -> Path:
    return Path("checkpoints") / key


def uploaded_steps(home: Home, key: str) -> list[int]:
    """Steps of the complete uploaded checkpoints of a training key, oldest first."""
    markers = home.fs.glob(home.url(remote_folder(key) / f"{PREFIX_CHECKPOINT_DIR}-*" / COMPLETE))
    steps = [marker.rsplit("/", 2)[-2].removeprefix(f"{PREFIX_CHECKPOINT_DIR}-") for marker in markers]
    return sorted(int(step) for step in steps if step.isdigit())


def restore_checkpoint(key: str, checkpoints: Path) -> Path | None:
    """Download the newest complete uploaded checkpoint into `checkpoints` unless a newer complete one is here
    already, with the best checkpoint its state names; return the checkpoint to resume from (None: start afresh),
    its state naming the best one by its path on this machine."""
    home = current_home()
    resume = last_complete_checkpoint(checkpoints)
    if home.remote:
        steps = uploaded_steps(home, key)
        local_step = int(resume.name.rsplit("-", 1)[1]) if resume else -1
        if steps and steps[-1] > local_step:
            resume = checkpoints / f"{PREFIX_CHECKPOINT_DIR}-{steps[-1]}"
            home.download(remote_folder(key) / resume.name, resume)
    if resume is None or (best := best_checkpoint(resume)) is None:
        return resume
    if home.remote and not is_complete(checkpoints / best) and home.published(remote_folder(key) / best):
        home.download(remote_folder(key) / best, checkpoints / best)
    name_best_checkpoint(resume, checkpoints / best)
    return resume


class UploadCheckpoints(TrainerCallback):
    """Upload each saved checkpoint of training `key` to the home (rank 0 only); keep the newest `KEPT`."""

    def __init__(self, key: str) -> None:
        self.key = key

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        home = current_home()
        name = f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        folder = Path(args.output_dir) / name
        if not is_complete(folder) or home.published(remote_folder(self.key) / name):
            return
        best = best_checkpoint(folder)
        name_best_checkpoint(folder, best)  # by name: this machine's path means nothing on the one that resumes
        home.publish(folder, remote_folder(self.key) / name)
        kept = {int(best.rsplit("-", 1)[1])} if best else set()  # the best is loaded at the end: never pruned
        for old in [step for step in uploaded_steps(home, self.key)[:-KEPT] if step not in kept]:
            prefix = home.url(remote_folder(self.key) / f"{PREFIX_CHECKPOINT_DIR}-{old}")
            home.fs.rm_file(f"{prefix}/{COMPLETE}")  # the marker first: never a half-deleted "complete" one
            home.fs.rm(prefix, recursive=True)
