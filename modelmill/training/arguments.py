"""The `TrainingArguments` a `train` section resolves to: the same in `modelmill check` and in the train stage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmill.config import TrainSpec
from modelmill.observe.tracking import reporting_arguments
from modelmill.training import devices

if TYPE_CHECKING:
    from transformers import TrainingArguments


def training_arguments(
    spec: TrainSpec, output_dir: Path, processes: int = 1, resolved: dict[str, Any] | None = None
) -> TrainingArguments:
    """`TrainingArguments` from the YAML section; `training_arguments` entries override the rest. With several
    processes, each takes its share of `batch_size` (the effective batch stays the same). `resolved`: the device
    settings, when the caller resolved them already (else they are resolved for this machine)."""
    import torch
    from transformers import TrainingArguments

    values: dict[str, Any] = {
        "output_dir": str(output_dir),
        "num_train_epochs": spec.epochs,
        "max_steps": spec.max_steps,
        "learning_rate": spec.learning_rate,
        "per_device_train_batch_size": spec.batch_size // processes,
        "per_device_eval_batch_size": spec.eval_batch_size,
        "weight_decay": spec.weight_decay,
        "warmup_steps": spec.warmup_ratio,
        "lr_scheduler_type": spec.lr_scheduler_type,
        "seed": spec.seed,
        "eval_strategy": spec.eval_strategy,
        "save_strategy": spec.eval_strategy,
        "eval_steps": spec.eval_steps,
        "save_steps": spec.eval_steps,
        "logging_steps": spec.logging_steps,
        "load_best_model_at_end": True,
        "metric_for_best_model": spec.metric_for_best_model,
        "save_total_limit": 2,
        **reporting_arguments(),  # `report_to: none` unless the train stage tracks (observe.tracking)
        "disable_tqdm": True,  # one bar per stage, drawn by TrainingProgress
        "train_sampling_strategy": "group_by_length" if spec.group_by_length else "random",
        **(resolved if resolved is not None else devices.resolve(spec, devices.DeviceFacts.probe(), processes)),
        # several processes: every parameter gets a gradient; on CPU, accelerate shards batches and syncs
        # gradients (gloo) only with use_cpu, else each process would train alone on the whole data
        **({"ddp_find_unused_parameters": False, "use_cpu": not torch.cuda.is_available(),
            "average_tokens_across_devices": False} if processes > 1 else {}),
        **spec.training_arguments,
    }
    return TrainingArguments(**{k: v for k, v in values.items() if v is not None})
