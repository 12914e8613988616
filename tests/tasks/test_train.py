"""Train: precision per device, and a retried run resumes from its last checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelmill.errors import ConfigError, TransientError
from modelmill.loading import load_tokenizer
from modelmill.manifests import TokenizedManifest
from modelmill.spec import ModelSpec, TrainSpec
from tasks import train as train_module
from tasks.tokenize import tokenize_splits


def test_cpu_trains_in_fp32_and_refuses_gpu_precisions(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert train_module.precision_flags("auto") == {"bf16": False, "fp16": False}
    with pytest.raises(ConfigError, match="train.precision: bf16 needs a CUDA GPU"):
        train_module.precision_flags("bf16")


@pytest.fixture
def tokens(review_data, tiny_model_dir: Path, tmp_path: Path) -> TokenizedManifest:
    dataset, data = review_data
    model = ModelSpec(name_or_path=str(tiny_model_dir))
    tokenized = tokenize_splits(dataset, load_tokenizer(str(tiny_model_dir), model), data, 32)
    tokenized.save_to_disk(str(tmp_path / "tokens"))
    return TokenizedManifest(key="t", path=tmp_path / "tokens", tokenizer=str(tiny_model_dir), labels=data.labels)


def test_a_retry_after_a_failure_resumes_from_the_last_checkpoint(tokens, tiny_model_dir, tmp_path, monkeypatch):
    model = ModelSpec(name_or_path=str(tiny_model_dir))
    spec = TrainSpec(epochs=2, batch_size=8, learning_rate=1e-3)
    workdir = tmp_path / "train"
    # given a first attempt that trains, checkpoints, then fails before saving the model
    real_atomic_dir = train_module.atomic_dir

    def fail_once(path):
        raise TransientError("disk hiccup")

    monkeypatch.setattr(train_module, "atomic_dir", fail_once)
    with pytest.raises(TransientError):
        train_module.fine_tune(tokens, model, spec, workdir)
    steps = sorted(int(p.name.split("-")[1]) for p in (workdir / "checkpoints").glob("checkpoint-*"))
    assert steps[-1] == 12, "2 epochs x 6 steps, checkpointed each epoch"
    assert not (workdir / "model").exists(), "no half-written model folder"
    # when the retry runs, then it resumes from the checkpoint and saves the model, dropping the checkpoints
    monkeypatch.setattr(train_module, "atomic_dir", real_atomic_dir)
    manifest = train_module.fine_tune(tokens, model, spec, workdir)
    assert manifest.resumed_from == "checkpoint-12"
    assert (manifest.path / "model.safetensors").is_file() and (manifest.path / "tokenizer.json").is_file()
    assert not (workdir / "checkpoints").exists()
