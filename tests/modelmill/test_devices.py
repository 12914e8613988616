"""What `auto` resolves to on a CPU, one GPU and several GPUs (simulated device facts), and the settings that are
refused where they cannot work."""

from __future__ import annotations

import pytest

from modelmill.config import TrainSpec
from modelmill.runtime.errors import ConfigError
from modelmill.training.devices import DeviceFacts, describe, resolve

CPU = DeviceFacts(cpus=2)
A100 = DeviceFacts(gpus=1, capability=(8, 0), bf16=True, cpus=16)
V100_X4 = DeviceFacts(gpus=4, capability=(7, 0), bf16=False, cpus=32)


def test_on_cpu_auto_is_fp32_fused_adamw_no_loader_workers_and_no_pinned_memory():
    assert resolve(TrainSpec(), CPU) == {
        "bf16": False, "fp16": False, "optim": "adamw_torch_fused", "dataloader_num_workers": 0,
        "dataloader_pin_memory": False, "gradient_accumulation_steps": 1, "torch_compile": False,
        "activation_checkpointing": False,
    }


def test_on_one_ampere_gpu_auto_is_bf16_tf32_fused_adamw_workers_and_pinned_memory():
    resolved = resolve(TrainSpec(), A100)
    assert resolved["bf16"] and not resolved["fp16"] and resolved["tf32"] is True
    assert resolved["optim"] == "adamw_torch_fused"
    assert resolved["dataloader_num_workers"] == 4 and resolved["dataloader_pin_memory"]
    assert describe(resolved, 1, A100) == ("1 GPU(s), 1 process(es), bf16, optimizer adamw_torch_fused, "
                                           "accumulation x1, 4 loader worker(s), tf32")


def test_on_four_older_gpus_auto_is_fp16_without_tf32_and_workers_shared_between_processes():
    resolved = resolve(TrainSpec(), V100_X4, processes=4)
    assert resolved["fp16"] and not resolved["bf16"] and resolved["tf32"] is False
    assert resolved["dataloader_num_workers"] == 4  # 32 cores / 4 processes - 1, capped at 4
    assert resolve(TrainSpec(), DeviceFacts(gpus=4, capability=(7, 0), cpus=8), 4)["dataloader_num_workers"] == 1


def test_declared_values_win_over_auto():
    spec = TrainSpec(tf32=False, optimizer="adafactor", dataloader_workers=2, compile=True,
                     gradient_checkpointing=True)
    resolved = resolve(spec, A100)
    assert (resolved["tf32"], resolved["optim"], resolved["dataloader_num_workers"]) == (False, "adafactor", 2)
    assert resolved["torch_compile"] and resolved["activation_checkpointing"]


def test_an_effective_batch_is_reached_by_gradient_accumulation():
    assert resolve(TrainSpec(batch_size=16, effective_batch_size=64), CPU)["gradient_accumulation_steps"] == 4
    with pytest.raises(ConfigError, match="effective_batch_size 60 is not a multiple of train.batch_size 16"):
        resolve(TrainSpec(batch_size=16, effective_batch_size=60), CPU)
    with pytest.raises(ValueError, match="effective_batch_size or gradient_accumulation_steps, not both"):
        TrainSpec(effective_batch_size=64, gradient_accumulation_steps=2)


@pytest.mark.parametrize("spec, message", [
    (TrainSpec(precision="bf16"), "train.precision: bf16 needs a CUDA GPU"),
    (TrainSpec(precision="fp16"), "train.precision: fp16 needs a CUDA GPU"),
    (TrainSpec(tf32=True), "train.tf32: true needs a CUDA GPU"),
])
def test_gpu_only_settings_are_refused_on_cpu(spec, message):
    with pytest.raises(ConfigError, match=message):
        resolve(spec, CPU)


def test_bf16_is_refused_on_a_gpu_without_it():
    with pytest.raises(ConfigError, match="bf16 needs a GPU that supports it"):
        resolve(TrainSpec(precision="bf16"), V100_X4)


def test_the_loader_workers_are_not_part_of_the_identity():
    assert TrainSpec(dataloader_workers=3).model_dump() == TrainSpec().model_dump()
