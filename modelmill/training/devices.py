"""What `auto` means on the machine at hand: precision, TF32, the optimizer, data-loader workers and pinned memory,
gradient accumulation, compile and checkpointing, resolved once from the device's facts into `TrainingArguments`
values (and shown in the run summary). A pure function of `DeviceFacts`, so tests pin it for any machine."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from modelmill.config import TrainSpec
from modelmill.runtime.errors import ConfigError

AMPERE = 8  # compute capability from which GPUs have TF32 tensor cores and bf16
MAX_AUTO_WORKERS = 4


@dataclass(frozen=True)
class DeviceFacts:
    """The facts the resolution depends on."""

    gpus: int = 0
    capability: tuple[int, int] = (0, 0)  # of the first GPU
    bf16: bool = False
    cpus: int = 1

    @classmethod
    def probe(cls) -> DeviceFacts:
        import torch

        cpus = os.cpu_count() or 1
        if not torch.cuda.is_available():
            return cls(cpus=cpus)
        return cls(torch.cuda.device_count(), torch.cuda.get_device_capability(0), torch.cuda.is_bf16_supported(),
                   cpus)


def precision(name: str, device: DeviceFacts) -> dict[str, bool]:
    """`bf16`/`fp16` flags: auto picks bf16 on a GPU that supports it, fp16 on others, fp32 on CPU."""
    if name == "auto":
        return {"bf16": device.gpus > 0 and device.bf16, "fp16": device.gpus > 0 and not device.bf16}
    if name != "fp32" and not device.gpus:
        raise ConfigError(f"train.precision: {name} needs a CUDA GPU and none is visible; use auto or fp32")
    if name == "bf16" and not device.bf16:
        raise ConfigError("train.precision: bf16 needs a GPU that supports it (compute capability 8 or newer); "
                          "use auto or fp16")
    return {"bf16": name == "bf16", "fp16": name == "fp16"}


def accumulation(spec: TrainSpec) -> int:
    """Gradient accumulation steps: declared, or what reaches `effective_batch_size` from `batch_size`."""
    if spec.effective_batch_size is None:
        return spec.gradient_accumulation_steps
    if spec.effective_batch_size % spec.batch_size:
        raise ConfigError(f"train.effective_batch_size {spec.effective_batch_size} is not a multiple of "
                          f"train.batch_size {spec.batch_size}")
    return spec.effective_batch_size // spec.batch_size


def resolve(spec: TrainSpec, device: DeviceFacts, processes: int = 1) -> dict[str, Any]:
    """The `TrainingArguments` values of the device settings, each `auto` decided for `device`."""
    gpu = device.gpus > 0
    tf32 = (gpu and device.capability[0] >= AMPERE) if spec.tf32 == "auto" else spec.tf32
    if tf32 and not gpu:
        raise ConfigError("train.tf32: true needs a CUDA GPU (Ampere or newer); use auto")
    workers = spec.dataloader_workers
    if workers == "auto":
        workers = min(MAX_AUTO_WORKERS, max(0, device.cpus // max(processes, 1) - 1)) if gpu else 0
    # fused AdamW has a CPU kernel too (torch >= 2.4): one AdamW step of a 135M model takes 0.09 s, not 0.5 s
    optimizer = spec.optimizer if spec.optimizer != "auto" else "adamw_torch_fused"
    return {
        **precision(spec.precision, device),
        **({"tf32": tf32} if gpu else {}),  # TrainingArguments refuses the setting without CUDA
        "optim": optimizer,
        "dataloader_num_workers": workers,
        "dataloader_pin_memory": gpu,
        "gradient_accumulation_steps": accumulation(spec),
        "torch_compile": spec.compile,
        # transformers 5's name for it (`gradient_checkpointing` is deprecated: a FutureWarning in every run)
        "activation_checkpointing": spec.gradient_checkpointing,
    }


def describe(resolved: dict[str, Any], processes: int, device: DeviceFacts) -> str:
    """One line for the run summary: what training ran on and with which settings."""
    where = f"{device.gpus} GPU(s)" if device.gpus else "CPU"
    precision_name = "bf16" if resolved.get("bf16") else "fp16" if resolved.get("fp16") else "fp32"
    extras = [name for name, key in (("tf32", "tf32"), ("torch.compile", "torch_compile"),
                                     ("gradient checkpointing", "activation_checkpointing")) if resolved.get(key)]
    return (f"{where}, {processes} process(es), {precision_name}, optimizer {resolved['optim']}, "
            f"accumulation x{resolved['gradient_accumulation_steps']}, {resolved['dataloader_num_workers']} loader "
            f"worker(s)" + (f", {', '.join(extras)}" if extras else ""))
