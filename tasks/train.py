"""Stage 4: fine-tune with `transformers.Trainer` (modelmill.training.fine_tune), in one process or several."""

from __future__ import annotations

import shutil

from prefect import task
from prefect.logging import get_run_logger

from modelmill.config import ModelSpec, TrainSpec
from modelmill.manifests import ModelManifest, TokenizedManifest
from modelmill.observe.timing import measure, timed, used_gpus
from modelmill.observe.tracking import tracked
from modelmill.runtime.retry import retry_if_transient
from modelmill.search.pruning import TrialHandle
from modelmill.storage.artifacts import new_output_dir, stable_hash, stage_dir
from modelmill.storage.caching import STAGE, module_source_hash
from modelmill.training.fine_tune import fine_tune
from modelmill.training.processes import resolve_processes, train_in_processes
from modelmill.training.ray_engine import train_on_ray


@task(name="train", cache_policy=STAGE, persist_result=True, retry_condition_fn=retry_if_transient)
@timed("train")
def train(tokens: TokenizedManifest, model: ModelSpec, spec: TrainSpec, title: str = "model",
          trial: TrialHandle | None = None, tracking: dict[str, str] | None = None) -> ModelManifest:
    """Fine-tune the model on the tokenized train split, selecting the best checkpoint on validation, in this
    process, in torchrun processes (`train.processes` above 1, or a parallel search's trial, which trains apart
    with its share of the cores), or with `train.engine: ray` on Ray workers. A pruned search `trial` reports to
    its study and may stop early (its cache key includes the trial: whether it stops depends on the trials before).
    `tracking` ({kind, pipeline, run}: observe.tracking) sends its parameters and curves there; not in the key.

    Its cache key is locked while it runs (SERIALIZABLE), so the working folder of a key has one user at a
    time: a retry, or a run after a crash, resumes there; a concurrent run waits and reuses the result.
    """
    from modelmill.observe.progress import TrainingProgress

    key = stable_hash("train", tokens, model, spec, module_source_hash(fine_tune), *([trial] if trial else []))
    logger = get_run_logger()
    workdir, output = stage_dir("train", key) / "work", new_output_dir("train", key)
    processes = resolve_processes(spec) if spec.engine == "local" else 0
    progress = [TrainingProgress(title, log=logger)]
    target = tracking or {"kind": "none", "pipeline": "", "run": ""}
    with measure() as measured, tracked(target["kind"], target["pipeline"], target["run"]):
        if spec.engine == "ray":
            manifest = train_on_ray(tokens, model, spec, workdir, output, log=logger, trial=trial)
            shutil.rmtree(workdir, ignore_errors=True)
        elif processes == 1 and spec.share == 1:
            manifest = fine_tune(tokens, model, spec, workdir, output, callbacks=progress, trial=trial)
        else:
            manifest = train_in_processes(tokens, model, spec, workdir, output, processes, callbacks=progress,
                                          log=logger, trial=trial)
            shutil.rmtree(workdir, ignore_errors=True)
        if manifest.device.startswith("cuda") and " x " in manifest.device:  # GPUs of other processes
            used_gpus(spec.ray.num_workers if spec.engine == "ray" else processes)
    manifest = manifest.model_copy(update={"train_cost": measured.cost})
    resumed = f" (resumed from {manifest.resumed_from})" if manifest.resumed_from else ""
    pruned = f", pruned at evaluation {manifest.pruned_at}" if manifest.pruned_at else ""
    logger.info("Trained on %s%s: mean train loss %s%s, model saved to %s", manifest.device, resumed,
                manifest.mean_loss, pruned, manifest.path)
    return manifest
