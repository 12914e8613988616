"""Train: precision per device, seeded weights, and resuming only from complete checkpoints."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from modelmill.config import ModelSpec, TrainSpec
from modelmill.runtime.errors import TransientError
from modelmill.training import fine_tune as train_module


def checkpoint_steps(workdir: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in (workdir / "checkpoints").glob("checkpoint-*"))


def test_a_retry_after_a_failure_resumes_from_the_last_checkpoint(tokens, tiny_model_dir, tmp_path, monkeypatch):
    model = ModelSpec(name_or_path=str(tiny_model_dir))
    spec = TrainSpec(epochs=2, batch_size=8, learning_rate=1e-3)
    workdir, output = tmp_path / "train" / "work", tmp_path / "train" / "out"
    # given a first attempt that trains, checkpoints, then fails before saving the model
    real_atomic_dir = train_module.atomic_dir

    def fail_once(path):
        raise TransientError("disk hiccup")

    monkeypatch.setattr(train_module, "atomic_dir", fail_once)
    with pytest.raises(TransientError):
        train_module.fine_tune(tokens, model, spec, workdir, output)
    assert checkpoint_steps(workdir)[-1] == 12, "2 epochs x 6 steps, checkpointed each epoch"
    assert not output.exists(), "no half-written model folder"
    # when the retry runs, then it resumes from the checkpoint and saves the model, dropping the work folder
    monkeypatch.setattr(train_module, "atomic_dir", real_atomic_dir)
    manifest = train_module.fine_tune(tokens, model, spec, workdir, output)
    assert manifest.resumed_from == "checkpoint-12"
    assert (manifest.path / "model.safetensors").is_file() and (manifest.path / "tokenizer.json").is_file()
    assert not workdir.exists()
    assert manifest.train_loss is not None and manifest.train_loss > 0.01, "the loss of the whole training"


def test_an_incomplete_checkpoint_left_by_a_killed_save_is_skipped_not_fatal(tokens, tiny_model_dir, tmp_path):
    model = ModelSpec(name_or_path=str(tiny_model_dir))
    spec = TrainSpec(epochs=1, batch_size=8, learning_rate=1e-3)
    workdir = tmp_path / "work"
    # given a checkpoint that a kill -9 cut short: only its config was written
    broken = workdir / "checkpoints" / "checkpoint-29"
    broken.mkdir(parents=True)
    shutil.copy(tiny_model_dir / "config.json", broken / "config.json")
    # when training runs, then it starts afresh instead of failing, and the broken folder is gone
    manifest = train_module.fine_tune(tokens, model, spec, workdir, tmp_path / "out")
    assert manifest.resumed_from is None
    assert (manifest.path / "model.safetensors").is_file() and not broken.exists()


def test_same_inputs_give_the_same_weights_whatever_the_global_random_state(tokens, tiny_model_dir, tmp_path):
    model = ModelSpec(name_or_path=str(tiny_model_dir))
    spec = TrainSpec(epochs=1, batch_size=8, learning_rate=1e-3, seed=7)
    weights = []
    for attempt, noise_seed in enumerate((1, 12345)):
        torch.manual_seed(noise_seed)  # another process, another RNG state before the model exists
        torch.rand(1000)
        manifest = train_module.fine_tune(tokens, model, spec, tmp_path / f"w{attempt}", tmp_path / f"m{attempt}")
        weights.append(load_file(manifest.path / "model.safetensors"))
    assert weights[0].keys() == weights[1].keys()
    different = [name for name in weights[0] if not torch.equal(weights[0][name], weights[1][name])]
    assert not different, f"weights differ between identical runs: {different[:3]}"


def test_gradient_checkpointing_trains_without_a_warning_in_the_users_terminal(tokens, tiny_model_dir, tmp_path):
    import warnings

    spec = TrainSpec(max_steps=2, batch_size=8, gradient_checkpointing=True, eval_strategy="steps", eval_steps=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train_module.fine_tune(tokens, ModelSpec(name_or_path=str(tiny_model_dir)), spec, tmp_path / "work",
                               tmp_path / "model")
    said = [str(w.message) for w in caught if "checkpoint" in str(w.message).lower() or "reentrant" in str(w.message)]
    assert said == [], said
