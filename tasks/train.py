"""Stage 4: fine-tune the model with `transformers.Trainer`, seeded, resuming from complete checkpoints."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from prefect import task
from prefect.logging import get_run_logger

from modelmill.config import ModelSpec, TrainSpec
from modelmill.manifests import ModelManifest, TokenizedManifest
from modelmill.observe.timing import timed
from modelmill.runtime.retry import retry_if_transient
from modelmill.storage.artifacts import atomic_dir, new_output_dir, stable_hash, stage_dir
from modelmill.storage.caching import STAGE, module_source_hash
from modelmill.storage.home import current_home, local_copy
from modelmill.training.arguments import precision_flags, training_arguments
from modelmill.training.loading import load_classifier, load_tokenizer

if TYPE_CHECKING:
    from transformers import EvalPrediction, TrainerCallback


def eval_accuracy(prediction: EvalPrediction) -> dict[str, float]:
    """Accuracy on the validation split, so `metric_for_best_model: accuracy` works."""
    return {"accuracy": float((np.argmax(prediction.predictions, axis=-1) == prediction.label_ids).mean())}


def mean_logged_loss(log_history: list[dict[str, Any]]) -> float | None:
    """Mean train loss over every logging step, restored ones included: it describes the whole training."""
    losses = [entry["loss"] for entry in log_history if "loss" in entry]
    return float(np.mean(losses)) if losses else None


HISTORY_KEYS = ("epoch", "step", "loss", "eval_loss", "eval_accuracy")


def curve_points(log_history: list[dict[str, Any]]) -> list[dict[str, float]]:
    """The logged train losses and validation results, for the validation-curve figure."""
    return [
        {key: float(entry[key]) for key in HISTORY_KEYS if key in entry}
        for entry in log_history if "loss" in entry or "eval_loss" in entry
    ]


def fine_tune(
    tokens: TokenizedManifest,
    model_spec: ModelSpec,
    spec: TrainSpec,
    workdir: Path,
    output: Path,
    callbacks: Sequence[TrainerCallback] = (),
) -> ModelManifest:
    """Train with checkpoints in `workdir/checkpoints`, publish the best model and tokenizer at `output`.

    The seed is set before the model (and its new classification head) is created, so equal inputs give
    equal weights. A complete checkpoint in `workdir` (left by a failed attempt) is resumed; an incomplete
    one is deleted; with a remote home, checkpoints are uploaded as they are saved and the newest uploaded one is
    resumed on any machine. `workdir` is removed once the model is published.
    """
    import datasets
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, PrinterCallback, Trainer, set_seed

    from modelmill.training.remote_checkpoints import UploadCheckpoints, restore_checkpoint

    set_seed(spec.seed)
    labels = tokens.labels
    tokenizer = load_tokenizer(tokens.tokenizer, model_spec)
    model = load_classifier(model_spec, labels)
    splits = datasets.load_from_disk(str(local_copy(tokens.path)))
    checkpoints = workdir / "checkpoints"
    args = training_arguments(spec, checkpoints)
    early = [EarlyStoppingCallback(spec.early_stopping_patience)] if spec.early_stopping_patience else []
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=splits["train"],
        eval_dataset=splits["validation"],
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=eval_accuracy,
        callbacks=[*early, *callbacks],
    )
    trainer.remove_callback(PrinterCallback)  # raw log dicts on stdout; TrainingProgress reports instead
    if current_home().remote:  # checkpoints follow the run: a retry on another machine resumes
        trainer.add_callback(UploadCheckpoints(output.parent.name))
    resume = restore_checkpoint(output.parent.name, checkpoints)
    trained = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    with atomic_dir(output) as scratch:
        trainer.save_model(str(scratch))
        tokenizer.save_pretrained(str(scratch))
    shutil.rmtree(workdir, ignore_errors=True)
    return ModelManifest(
        key=output.parent.name,
        path=output,
        base_model=model_spec.name_or_path,
        labels=labels,
        device=str(args.device),
        training_arguments={
            **spec.model_dump(mode="json", exclude={"training_arguments"}),
            **spec.training_arguments,
            **precision_flags(spec.precision),
        },
        train_loss=mean_logged_loss(trainer.state.log_history),
        best_eval_loss=trainer.state.best_metric if spec.metric_for_best_model == "loss" else None,
        resumed_from=resume.name if resume else None,
        train_seconds=trained.metrics.get("train_runtime"),
        train_samples_per_second=trained.metrics.get("train_samples_per_second"),
        history=curve_points(trainer.state.log_history),
    )


@task(name="train", cache_policy=STAGE, persist_result=True, retry_condition_fn=retry_if_transient)
@timed("train")
def train(tokens: TokenizedManifest, model: ModelSpec, spec: TrainSpec, title: str = "model") -> ModelManifest:
    """Fine-tune the model on the tokenized train split, selecting the best checkpoint on validation.

    Its cache key is locked while it runs (SERIALIZABLE), so the working folder of a key has one user at a
    time: a retry, or a run after a crash, resumes there; a concurrent run waits and reuses the result.
    """
    from modelmill.observe.progress import TrainingProgress

    key = stable_hash("train", tokens, model, spec, module_source_hash(fine_tune))
    logger = get_run_logger()
    manifest = fine_tune(
        tokens, model, spec, stage_dir("train", key) / "work", new_output_dir("train", key),
        callbacks=[TrainingProgress(title, log=logger)],
    )
    resumed = f" (resumed from {manifest.resumed_from})" if manifest.resumed_from else ""
    logger.info("Trained on %s%s: mean train loss %s, model saved to %s", manifest.device, resumed,
                manifest.mean_loss, manifest.path)
    return manifest
