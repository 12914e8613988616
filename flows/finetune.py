"""The fine-tuning flow: load -> validate -> tokenize -> train -> evaluate -> (challenge the published model) ->
push."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from prefect import flow
from prefect.logging import get_run_logger
from prefect.states import Completed, Failed

from flows.search import search_best
from modelmill.config import BatchSize, Epochs, LearningRate, MaxSteps, Seed
from modelmill.config.overrides import RunOverrides
from modelmill.config.runs import ResolvedRun
from modelmill.evaluation.gates import require_known_classes
from modelmill.hub.errors import HeadMoved
from modelmill.manifests import (
    DataManifest,
    EvaluationReport,
    ModelManifest,
    PushResult,
    RunSummary,
    Scores,
    SearchReport,
    TokenizedManifest,
    ValidationReport,
)
from modelmill.observe import notify
from modelmill.observe.lifecycle import announce_promotion, current_run_name, finish_run, start_run
from modelmill.observe.stages import StageLog
from modelmill.observe.tracking import log_test_metrics
from modelmill.runtime.errors import ModelmillError
from modelmill.storage.cache_probe import CacheProbe
from modelmill.storage.home import current_home
from modelmill.storage.secrets import push_credentials
from modelmill.storage.settings import get_settings
from modelmill.task_types import PREFERENCE, task_type
from modelmill.task_types.scored import UNTUNED
from tasks.challenge import challenge_champion
from tasks.evaluate import evaluate_model
from tasks.hub_head import read_hub_head
from tasks.load_data import load_data
from tasks.push import push_model
from tasks.tokenize import tokenize
from tasks.train import train
from tasks.validate import validate_data

HEAD_MOVES = 3  # how many times a release is decided again because main moved before its commit landed


@flow(
    name="finetune", validate_parameters=True, on_failure=[notify.on_failure], on_crashed=[notify.on_crashed],
    result_storage=current_home().result_storage(),  # a failed run's result too: under the home, never PREFECT_HOME
)
def finetune(
    pipeline: str,
    pipelines_file: str = "pipelines.yaml",
    epochs: Epochs | None = None,
    learning_rate: LearningRate | None = None,
    batch_size: BatchSize | None = None,
    max_steps: MaxSteps | None = None,
    seed: Seed | None = None,
    search_trials: int | None = None,
    force_retrain: bool = False,
    dry_run: bool = False,
    note: str = "",
) -> RunSummary:
    """Fine-tune, evaluate and publish one pipeline of pipelines.yaml; each stage is a cached, retryable task.

    Args:
        pipeline: Name of the pipeline in the pipelines file.
        pipelines_file: The pipelines file, read when the run starts (relative to the project folder).
        epochs: Train for this many epochs instead of train.epochs.
        learning_rate: Peak learning rate instead of train.learning_rate (e.g. 3e-5).
        batch_size: Per-device train batch size instead of train.batch_size.
        max_steps: Stop after this many optimizer steps (-1: all epochs) instead of train.max_steps.
        seed: Random seed instead of train.seed.
        search_trials: Trials of the pipeline's hyperparameter search instead of search.trials.
        force_retrain: Train again even when a cached model exists for the same inputs.
        dry_run: Write the files that would be pushed, push nothing.
        note: Why this run was started; shown in the run's spec and summary artifacts.
    """
    overrides = RunOverrides(
        epochs=epochs, learning_rate=learning_rate, batch_size=batch_size, max_steps=max_steps, seed=seed,
        search_trials=search_trials, force_retrain=force_retrain, dry_run=dry_run, note=note,
    )
    run = start_run(pipeline, pipelines_file, overrides)
    stages = StageLog(run.spec.retries, run.record)
    try:
        summary = run_stages(run, stages)
    except ModelmillError as exc:  # an outcome (bad data, a failed gate, a refusal): a Failed state, no traceback
        finish_run(run, stages, error=f"{type(exc).__name__}: {exc}")
        return Failed(message=exc.outcome(), data=exc)
    except BaseException as exc:
        finish_run(run, stages, error=f"{type(exc).__name__}: {exc}")  # never masks `exc`: it logs its own errors
        raise
    finish_run(run, stages, summary=summary)
    announce_promotion(run, summary)
    if not summary.promoted:  # a distinct, visible end: the run worked, the published model stays
        return Completed(name="Not promoted", message=summary.evaluation.promotion.reason, data=summary)
    return summary


@dataclass(frozen=True)
class Built:
    """What the stages up to evaluation made of one pipeline, and the run as it trained (its model resolved)."""

    run: ResolvedRun
    data: DataManifest
    validation: ValidationReport
    model: ModelManifest
    search: SearchReport | None
    evaluation: EvaluationReport
    tokens: TokenizedManifest | None = None


def run_stages(run: ResolvedRun, stage: StageLog | CacheProbe) -> RunSummary:
    """The stages, one call each; a stage's failure ends the run with its error."""
    built = build(run, stage)
    model = built.model
    evaluation, pushed = release(built.run, stage, model, built.data, built.validation, built.evaluation, built.search)
    summary = RunSummary(
        pipeline=run.pipeline, run_name=current_run_name(), spec_hash=run.spec_hash, note=run.overrides.note,
        evaluation=evaluation, model_path=model.path, push=pushed,
        train_samples_per_second=model.train_samples_per_second, training=model.settings, search=built.search,
        chat_template=model.chat_template,
    )
    return summary.model_copy(update={"stages": dict(stage.states), "costs": stage.costs(),
                                      "price_per_device_hour": get_settings().price,
                                      "data_fingerprint": built.data.fingerprint})


def build(run: ResolvedRun, stage: StageLog | CacheProbe) -> Built:
    """Load, validate, tokenize, train (or search) and evaluate `run`'s pipeline. A model that starts from another
    pipeline's (`model.from_pipeline`) has that pipeline built first, its stages recorded under its name: cached
    like any stage, its gates holding, nothing of it pushed."""
    before = None
    if run.upstream is not None:
        upstream = run.upstream.pipeline
        try:
            with stage.within(upstream):
                before = build(run.upstream, stage)
                adapted = before.model
        except ModelmillError as exc:  # its data, gates or checks: said as that pipeline's
            exc.args = (f"pipeline '{upstream}', whose model '{run.pipeline}' starts from: {exc}", *exc.args[1:])
            exc.reason = f"pipeline '{upstream}': {exc.reason}"
            raise
        run = replace(run, spec=run.spec.model_copy(update={"model": run.spec.model.adapted(str(adapted.path))}))
    spec, name = run.spec, run.pipeline
    tracking = ({"kind": spec.observe.tracking, "pipeline": name, "run": current_run_name() or name}
                if spec.observe.tracking != "none" else None)
    data = stage(load_data, spec.data, spec.task, spec.validation.checks.overlap.dropping)
    # the labels may come from the data: fail before training
    require_known_classes(spec.evaluate, task_type(spec.task).class_names(data.labels))
    validation = stage(validate_data, data, spec.validation, name)
    tokens = stage(tokenize, data, spec.tokenizer, spec.model)
    retrain = {"refresh_cache": True} if run.overrides.force_retrain else None
    if spec.search is None:
        model, search = stage(train, tokens, spec.model, spec.train, name, None, tracking, options=retrain), None
    else:
        model, search = search_best(run, stage, tokens, options=retrain)
    evaluation = stage(evaluate_model, model, tokens, spec.evaluate, name, data)
    if tracking is not None and stage.states.get("evaluate") == "Completed":  # a cached evaluation was logged before
        log_test_metrics(tracking["kind"], name, tracking["run"], evaluation.metrics)
    if spec.model.compare_unadapted:
        twin = unadapted_comparison(run, stage, data, evaluation, retrain)
        evaluation = evaluation.model_copy(update={"adaptation": twin})
    if spec.task == PREFERENCE and before is not None:
        evaluation = evaluation.model_copy(update={"alignment": alignment_cost(run, stage, model, before)})
    return Built(run, data, validation, model, search, evaluation, tokens)


def alignment_cost(run: ResolvedRun, stage: StageLog | CacheProbe, aligned: ModelManifest, sft: Built
                   ) -> list[Scores]:
    """The aligned model scored on the SFT pipeline's test set under that pipeline's thresholds (a drop below them
    fails the run, as the SFT model's own would), beside the SFT model (its untuned baseline there): what the
    alignment cost in answers."""
    assert sft.tokens is not None
    spec = sft.run.spec.evaluate
    gates = spec.model_copy(update={"baselines": spec.baselines.model_copy(update={"must_beat": []})})
    with stage.within(f"{sft.run.pipeline}-test"):
        report = stage(evaluate_model, aligned, sft.tokens, gates, f"{run.pipeline} on {sft.run.pipeline}'s test set",
                       sft.data)
    [before] = [baseline.scores for baseline in report.baselines if baseline.name == UNTUNED]
    return [Scores(name=f"{sft.run.pipeline} (SFT)", num_examples=report.num_examples, metrics=before.metrics),
            Scores(name=f"{run.pipeline} (aligned)", num_examples=report.num_examples, metrics=report.metrics)]


def unadapted_comparison(run: ResolvedRun, stage: StageLog | CacheProbe, data: DataManifest,
                         adapted: EvaluationReport, retrain: dict[str, Any] | None = None) -> list[Scores]:
    """The same fine-tune (settings, seed, split; trained again with the adapted one's `retrain`) from the model the
    domain adaptation started from, scored but not gated (stages recorded under `unadapted/`), beside the adapted
    model's: what the adaptation bought."""
    root = run.upstreams[-1]  # the pipeline the chain starts from: its model is the unadapted one
    spec, base = run.spec, root.spec.model.model_copy(update={"encoder_decoder": run.spec.model.encoder_decoder})
    with stage.within("unadapted"):
        tokens = stage(tokenize, data, spec.tokenizer, base)
        model = stage(train, tokens, base, spec.train, f"{run.pipeline} (unadapted)", options=retrain)
        report = stage(evaluate_model, model, tokens, spec.evaluate, f"{run.pipeline} (unadapted)", data, False)
    return [Scores(name=f"from {base.origin} (unadapted)", num_examples=report.num_examples, metrics=report.metrics),
            Scores(name=f"from {spec.model.origin} (adapted)", num_examples=adapted.num_examples,
                   metrics=adapted.metrics)]


def release(
    run: ResolvedRun, stage: StageLog | CacheProbe, model: ModelManifest, data: DataManifest,
    validation: ValidationReport, evaluation: EvaluationReport, search: SearchReport | None = None,
) -> tuple[EvaluationReport, PushResult | None]:
    """Read the Hub's head, decide against it (with evaluate.promote), push on it; when main moved before the
    commit landed, read it and decide again. Returns the evaluation with its promotion, and the push (None when
    not promoted)."""
    spec, name, dry_run = run.spec, run.pipeline, run.overrides.dry_run
    publishes = not dry_run and push_credentials(spec.push.token_secret_block)[0] is not None
    for _ in range(HEAD_MOVES):
        head = stage(read_hub_head, spec.push) if spec.evaluate.promote or publishes else None
        if spec.evaluate.promote is not None:
            promotion = stage(challenge_champion, model, data, spec.evaluate, evaluation, spec.push, head, name,
                              spec.tokenizer)
            evaluation = evaluation.model_copy(update={"promotion": promotion})
            if not promotion.promoted:
                return evaluation, None
        try:
            return evaluation, stage(
                push_model, name, spec.description, spec.push, model, evaluation, data, validation, dry_run,
                run.spec_hash, head, search,
            )
        except HeadMoved as moved:
            get_run_logger().warning("%s", moved)
    raise HeadMoved(f"{spec.push.repo_id}: main moved {HEAD_MOVES} times while this run was releasing; run it again")
