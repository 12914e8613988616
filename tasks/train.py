"""Stage 4: fine-tune the model with `transformers.Trainer`, resuming from checkpoints on retry."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import torch
from prefect import task
from prefect.logging import get_run_logger
from transformers import (
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    EvalPrediction,
    Trainer,
    TrainingArguments,
)
from transformers.trainer_utils import get_last_checkpoint

from modelmill.artifacts import atomic_dir, stable_hash, stage_dir
from modelmill.caching import STAGE
from modelmill.errors import ConfigError
from modelmill.loading import load_classifier, load_tokenizer
from modelmill.manifests import ModelManifest, TokenizedManifest
from modelmill.retry import retry_if_transient
from modelmill.spec import ModelSpec, TrainSpec


def precision_flags(precision: str) -> dict[str, bool]:
    """`bf16`/`fp16` flags: auto picks bf16 on a GPU that supports it, fp16 on others, fp32 on CPU."""
    cuda = torch.cuda.is_available()
    if precision == "auto":
        bf16 = cuda and torch.cuda.is_bf16_supported()
        return {"bf16": bf16, "fp16": cuda and not bf16}
    if precision != "fp32" and not cuda:
        raise ConfigError(f"train.precision: {precision} needs a CUDA GPU and none is visible; use auto or fp32")
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def training_arguments(spec: TrainSpec, output_dir: Path) -> TrainingArguments:
    """`TrainingArguments` from the YAML section; `training_arguments` entries override the rest."""
    values: dict[str, Any] = {
        "output_dir": str(output_dir),
        "num_train_epochs": spec.epochs,
        "max_steps": spec.max_steps,
        "learning_rate": spec.learning_rate,
        "per_device_train_batch_size": spec.batch_size,
        "per_device_eval_batch_size": spec.eval_batch_size,
        "gradient_accumulation_steps": spec.gradient_accumulation_steps,
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
        "report_to": "none",
        "dataloader_pin_memory": torch.cuda.is_available(),
        **precision_flags(spec.precision),
        **spec.training_arguments,
    }
    return TrainingArguments(**{k: v for k, v in values.items() if v is not None})


def eval_accuracy(prediction: EvalPrediction) -> dict[str, float]:
    """Accuracy on the validation split, so `metric_for_best_model: accuracy` works."""
    return {"accuracy": float((np.argmax(prediction.predictions, axis=-1) == prediction.label_ids).mean())}


def fine_tune(tokens: TokenizedManifest, model_spec: ModelSpec, spec: TrainSpec, workdir: Path) -> ModelManifest:
    """Train, keep checkpoints in `workdir/checkpoints`, and save the best model and tokenizer to `workdir/model`."""
    labels = tokens.labels
    tokenizer = load_tokenizer(tokens.tokenizer, model_spec)
    model = load_classifier(model_spec, labels)
    splits = datasets.load_from_disk(str(tokens.path))
    args = training_arguments(spec, workdir / "checkpoints")
    callbacks = [EarlyStoppingCallback(spec.early_stopping_patience)] if spec.early_stopping_patience else []
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=splits["train"],
        eval_dataset=splits["validation"],
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=eval_accuracy,
        callbacks=callbacks,
    )
    checkpoints = workdir / "checkpoints"
    resume = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    result = trainer.train(resume_from_checkpoint=resume)
    with atomic_dir(workdir / "model") as scratch:
        trainer.save_model(str(scratch))
        tokenizer.save_pretrained(str(scratch))
    shutil.rmtree(checkpoints, ignore_errors=True)
    return ModelManifest(
        key=workdir.name,
        path=workdir / "model",
        base_model=model_spec.name_or_path,
        labels=labels,
        device=str(args.device),
        training_arguments={
            **spec.model_dump(mode="json", exclude={"training_arguments"}),
            **spec.training_arguments,
            **precision_flags(spec.precision),
        },
        train_loss=result.training_loss,
        best_eval_loss=trainer.state.best_metric if spec.metric_for_best_model == "loss" else None,
        resumed_from=Path(resume).name if resume else None,
    )


@task(name="train", cache_policy=STAGE, persist_result=True, retry_condition_fn=retry_if_transient)
def train(tokens: TokenizedManifest, model: ModelSpec, spec: TrainSpec) -> ModelManifest:
    """Fine-tune the model on the tokenized train split, selecting the best checkpoint on validation."""
    workdir = stage_dir("train", stable_hash("train", tokens.key, model, spec))
    manifest = fine_tune(tokens, model, spec, workdir)
    get_run_logger().info(
        "Trained on %s: train loss %.4f, model saved to %s", manifest.device, manifest.train_loss or 0, manifest.path
    )
    return manifest
