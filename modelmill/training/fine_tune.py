"""Fine-tuning with `transformers.Trainer`: seeded, resuming from complete checkpoints, published once. The same
function runs in the train task's process and, under torchrun, in every worker process (it imports no Prefect)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelmill.config import ModelSpec, TrainSpec
from modelmill.manifests import ModelManifest, TokenizedManifest
from modelmill.storage.artifacts import atomic_dir
from modelmill.storage.checkpoints import last_complete_checkpoint
from modelmill.storage.home import current_home, local_copy
from modelmill.task_types import task_type
from modelmill.training.adapters import parameter_counts, quantized_loading, with_adapter, write_record
from modelmill.training.arguments import training_arguments
from modelmill.training.devices import DeviceFacts, describe, resolve
from modelmill.training.loading import load_tokenizer

if TYPE_CHECKING:
    from transformers import EvalPrediction, TrainerCallback

    from modelmill.search.pruning import TrialHandle

HISTORY_KEYS = ("epoch", "step", "loss", "eval_loss", "eval_accuracy")


def eval_accuracy(prediction: EvalPrediction) -> dict[str, float]:
    """Accuracy on the validation split, so `metric_for_best_model: accuracy` works."""
    return {"accuracy": float((np.argmax(prediction.predictions, axis=-1) == prediction.label_ids).mean())}


def mean_logged_loss(log_history: list[dict[str, Any]]) -> float | None:
    """Mean train loss over every logging step, restored ones included: it describes the whole training."""
    losses = [entry["loss"] for entry in log_history if "loss" in entry]
    return float(np.mean(losses)) if losses else None


def curve_points(log_history: list[dict[str, Any]]) -> list[dict[str, float]]:
    """The logged train losses and validation results, for the validation-curve figure."""
    return [
        {key: float(entry[key]) for key in HISTORY_KEYS if key in entry}
        for entry in log_history if "loss" in entry or "eval_loss" in entry
    ]


def load_model(kind: Any, model_spec: ModelSpec, labels: list[str], spec: TrainSpec) -> Any:
    """The task type's model for training: with `train.adapter`, the base (in 4 bits for QLoRA) wrapped with a
    LoRA adapter."""
    from modelmill.training.loading import BASE_LOADING

    if spec.adapter is None:
        return kind.load_model(model_spec, labels)
    token = BASE_LOADING.set(quantized_loading(spec.adapter))
    try:
        base = kind.load_model(model_spec, labels)
    finally:
        BASE_LOADING.reset(token)
    return with_adapter(base, spec.adapter, kind.name, spec.gradient_checkpointing)


def world() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) outside torchrun."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def fine_tune(
    tokens: TokenizedManifest,
    model_spec: ModelSpec,
    spec: TrainSpec,
    workdir: Path,
    output: Path,
    callbacks: Sequence[TrainerCallback] = (),
    keep_workdir: bool = False,
    trial: TrialHandle | None = None,
) -> ModelManifest:
    """Train with checkpoints in `workdir/checkpoints`, publish the best model and tokenizer at `output`.

    The seed is set before the model (and its new classification head) is created, so equal inputs give
    equal weights. A complete checkpoint in `workdir` (left by a failed attempt) is resumed; an incomplete
    one is deleted; with a remote home, checkpoints are uploaded as they are saved and the newest uploaded one is
    resumed on any machine. `workdir` is removed once the model is published (unless `keep_workdir`).

    Under torchrun every process runs this; `train.batch_size` is split between them (the effective batch is
    the same as in one process) and rank 0 alone uploads, saves and publishes.

    A search's `trial` reports its objective at every evaluation and stops when the study prunes it; its best
    checkpoint so far is published, marked `pruned_at`.
    """
    import datasets
    from transformers import EarlyStoppingCallback, PrinterCallback, Trainer, set_seed

    from modelmill.training.pruning import pruning_callbacks
    from modelmill.training.remote_checkpoints import UploadCheckpoints, restore_checkpoint

    rank, size = world()
    set_seed(spec.seed)
    labels, kind = tokens.labels, task_type(tokens.task)
    tokenizer = load_tokenizer(tokens.tokenizer, model_spec)
    if tokens.chat_template is not None:  # published with exactly the template the rows were rendered with
        tokenizer.chat_template = tokens.chat_template
    if tokenizer.pad_token is None:  # causal LMs ship without one: pad with the end of text
        tokenizer.pad_token = tokenizer.eos_token
    model = load_model(kind, model_spec, labels, spec)
    splits = datasets.load_from_disk(str(local_copy(tokens.path)))
    checkpoints = workdir / "checkpoints"
    device = DeviceFacts.probe()
    resolved = resolve(spec, device, size)
    args = training_arguments(spec, checkpoints, processes=size, resolved=resolved)
    early = [EarlyStoppingCallback(spec.early_stopping_patience)] if spec.early_stopping_patience else []
    pruning = pruning_callbacks(trial)
    build = getattr(kind, "trainer", None) or (lambda spec, max_length, **parts: Trainer(**parts))
    trainer = build(
        spec, tokens.max_length,
        model=model,
        args=args,
        train_dataset=splits["train"],
        eval_dataset=splits["validation"],
        data_collator=kind.collator(tokenizer),
        processing_class=tokenizer,
        compute_metrics=kind.training_metrics,
        callbacks=[*early, *pruning, *callbacks],
    )
    trainer.remove_callback(PrinterCallback)  # raw log dicts on stdout; TrainingProgress reports instead
    if current_home().remote:  # checkpoints follow the run: a retry on another machine resumes
        trainer.add_callback(UploadCheckpoints(output.parent.name))
    # one process restores an uploaded checkpoint; under torchrun the task did so before launching the workers
    resume = restore_checkpoint(output.parent.name, checkpoints) if size == 1 else last_complete_checkpoint(checkpoints)
    trained = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    trainable, parameters = parameter_counts(model)
    if rank == 0:
        with atomic_dir(output) as scratch:
            trainer.save_model(str(scratch))
            tokenizer.save_pretrained(str(scratch))
            if spec.adapter is not None:
                write_record(scratch, model_spec, tokens.task, labels, spec.seed)
        if not keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return ModelManifest(
        key=output.parent.name,
        path=output,
        base_model=model_spec.origin,
        started_from=model_spec,
        labels=labels,
        device=str(args.device) if size == 1 else f"{args.device} x {size} processes",
        training_arguments={
            **spec.model_dump(mode="json", exclude={"training_arguments"}),
            **resolved,
            **spec.training_arguments,
        },
        settings=describe(resolved, size, device),
        train_loss=mean_logged_loss(trainer.state.log_history),
        best_eval_loss=trainer.state.best_metric if spec.metric_for_best_model == "loss" else None,
        resumed_from=resume.name if resume else None,
        train_seconds=trained.metrics.get("train_runtime"),
        train_samples_per_second=trained.metrics.get("train_samples_per_second"),
        history=curve_points(trainer.state.log_history),
        pruned_at=pruning[0].pruned_at if pruning else None,
        chat_template=tokens.template_hash,
        adapter=spec.adapter,
        trainable_parameters=trainable,
        parameters=parameters,
    )
