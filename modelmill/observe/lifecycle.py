"""The start and end of every run: read the spec, name the run, record it; publish the summary."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from prefect.client.schemas.objects import FlowRun
from prefect.context import FlowRunContext
from prefect.logging import get_run_logger

from modelmill.config.overrides import RunOverrides
from modelmill.config.runs import ResolvedRun, resolve_run
from modelmill.hub.promotion import comparison_line
from modelmill.manifests import RunSummary
from modelmill.observe import notify, readable_failures
from modelmill.observe.quiet import quiet_library_progress
from modelmill.observe.reporting import summary_markdown
from modelmill.observe.run_artifacts import publish_spec, publish_summary, run_origin
from modelmill.observe.run_names import is_generated_name, is_own_name, run_name, unique_name
from modelmill.observe.stages import StageLog
from modelmill.runtime.errors import ConfigError
from modelmill.runtime.telemetry import switch_off_telemetry
from modelmill.storage.run_records import Release, now, start_record, write_record


def start_run(pipeline: str, pipelines_file: str, overrides: RunOverrides) -> ResolvedRun:
    """Read the pipelines file now, name the run, record its spec, and note whom to notify."""
    switch_off_telemetry()
    readable_failures.install_for_runs()
    quiet_library_progress()
    run = resolve_run(pipeline, pipelines_file, overrides)
    refuse_unbuildable_rules(pipeline, run)
    context = FlowRunContext.get()
    run = replace(run, record=start_record(pipeline, context.flow_run.id if context else None, run.spec_hash))
    if context is not None:
        notify.remember(context.flow_run.id, pipeline, run.spec.notify)
        name_run(context.flow_run, run)
        get_run_logger().info(
            "Run %s: pipeline '%s' read from %s when the run started (spec %s)",
            context.flow_run.name, pipeline, pipelines_file, run.spec_hash,
        )
        if run.spec.trigger is not None:
            record_data_use(pipeline, run)
    publish_spec(run)
    return run


def record_data_use(pipeline: str, run: ResolvedRun) -> None:
    """Tell the pipeline's data watcher which data this run uses (a later change is compared with it). A source
    that cannot be read now is left to the load stage to report."""
    from modelmill.data.identity import source_identities
    from modelmill.runtime.data_trigger import record_use

    try:
        record_use(pipeline, source_identities(run.spec.data))
    except Exception as exc:  # never fails a run: the watcher then compares with an older use
        get_run_logger().warning("Could not record the data this run uses for the data trigger: %s: %s",
                                 type(exc).__name__, exc)


def refuse_unbuildable_rules(pipeline: str, run: ResolvedRun) -> None:
    """The strict half of the spec check (GX's own validators on each rule), before any work: a deployment run
    has had no `modelmill check`."""
    from modelmill.checks.strict import rule_problems

    problems = rule_problems(pipeline, run.spec)
    for upstream in run.upstreams:  # the pipelines its model starts from run first, in this run
        problems += rule_problems(upstream.pipeline, upstream.spec)
    if problems:
        raise ConfigError(f"{run.file}: " + "; ".join(problems))


def name_run(flow_run: FlowRun, run: ResolvedRun) -> None:
    """Replace Prefect's random name with `<pipeline>-<time>-<spec hash>` (the CLI's run has it from the start);
    a name a person typed is kept. Another run's name is never taken."""
    if is_own_name(flow_run.name, run.pipeline, run.spec_hash):
        name = flow_run.name
    elif is_generated_name(flow_run.name):
        name = run_name(run.pipeline, run.spec_hash)
    else:
        return
    with get_client(sync_client=True) as client:

        def others_named(candidate: str) -> set[str]:
            same = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[candidate])),
                                         limit=5)
            return {other.name for other in same if other.id != flow_run.id}

        name = unique_name(name, flow_run.id, others_named(name))
        if name != flow_run.name:
            client.set_flow_run_name(flow_run.id, name)
        # two runs that started in the same second may both have found the name free: whoever sees the other one
        # after naming itself takes the name with its id (both may; never neither)
        if others_named(name):
            name = unique_name(name, flow_run.id, {name})
            client.set_flow_run_name(flow_run.id, name)
    flow_run.name = name


def finish_run(run: ResolvedRun, stages: StageLog, summary: RunSummary | None = None, error: str | None = None) -> None:
    """Publish the run summary and complete the run's record, cached or not, succeeded or not; a failure to
    publish is logged, not raised."""
    try:
        publish_run_summary(run, stages, summary, error)
        complete_record(run, stages, summary, error)
        publish_history(run.pipeline)
    except Exception as exc:  # the run's own outcome matters more than its summary artifact
        get_run_logger().warning("Could not publish the run summary: %s", exc)


def complete_record(
    run: ResolvedRun, stages: StageLog, summary: RunSummary | None = None, error: str | None = None
) -> None:
    """How the run ended, the artifact folders it used or made, and what it released."""
    if run.record is None:
        return
    push = summary.push if summary is not None else None
    released = Release(repo_id=push.repo_id, tag=push.tag, commit=push.commit_oid) if push and not push.dry_run else None
    status = "failed" if error else ("completed" if summary is None or summary.promoted else "not promoted")
    figures: dict[str, Any] = {"run_name": current_run_name(), "reason": first_line(error) if error else ""}
    if summary is not None:
        metric = main_metric(run, summary)
        promotion = summary.evaluation.promotion
        figures.update({
            "metrics": summary.evaluation.metrics, "work_seconds": summary.work_seconds,
            "costs": {stage: cost.model_dump() for stage, cost in summary.costs.items()}, "cost": summary.cost,
            "train_samples_per_second": summary.train_samples_per_second,
            "data": summary.data_fingerprint, "main_metric": metric,
            "main_value": summary.evaluation.metrics.get(metric),
            "champion_delta": champion_delta(promotion, metric),
            "reason": promotion.reason if promotion is not None and not promotion.promoted else "",
            **({"search": summary.search.model_dump(mode="json")} if summary.search else {}),
        })
    write_record(run.record.model_copy(update={
        "finished": now(), "status": status, "artifacts": stages.artifacts, "release": released, "figures": figures,
    }))


def main_metric(run: ResolvedRun, summary: RunSummary) -> str:
    """The metric that decides promotion, else the first the evaluation reports."""
    promote = run.spec.evaluate.promote
    if promote is not None and promote.metric in summary.evaluation.metrics:
        return promote.metric
    return next(iter(summary.evaluation.metrics), "")


def champion_delta(promotion: Any, metric: str) -> float | None:
    """The challenger's value minus the champion's on `metric` (None when no champion was met)."""
    if promotion is None:
        return None
    row = next((row for row in promotion.rows if row.name == metric), None)
    return None if row is None else row.challenger - row.champion


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def publish_history(pipeline: str) -> None:
    """The pipeline's history of runs as the `<pipeline>-releases` artifact (a new version per run), with the
    path of its figure."""
    from prefect.artifacts import create_markdown_artifact

    from modelmill.observe.release_history import figure_path, history, history_png, history_table
    from modelmill.observe.run_artifacts import prefect_artifact_key

    rows = history(pipeline)
    figure = history_png(rows, figure_path(pipeline))
    markdown = "\n".join([f"## Runs and releases of {pipeline}", "", history_table(rows),
                          *(["", f"Main metric per run: `{figure}`"] if figure else [])])
    create_markdown_artifact(key=prefect_artifact_key(pipeline, "releases"), markdown=markdown,
                             description=f"Every run of {pipeline}: outcome, version, data, spec, metric, cost")


def publish_run_summary(run: ResolvedRun, stages: StageLog, summary: RunSummary | None, error: str | None) -> None:
    context = FlowRunContext.get()
    flow_run = context.flow_run if context else None
    origin = run_origin(run, getattr(flow_run, "deployment_id", None), bool(getattr(flow_run, "auto_scheduled", False)))
    outcome = "succeeded" if error is None else "failed"
    title = f"{current_run_name()}: {outcome} ({origin} run, spec {run.spec_hash})"
    if run.overrides.note:
        title += f" — {run.overrides.note}"
    publish_summary(run.pipeline, origin, summary_markdown(title, stages.states, summary, error), title)


def current_run_name() -> str:
    """The name of the flow run in progress (empty outside one)."""
    context = FlowRunContext.get()
    return context.flow_run.name if context else ""


def announce_promotion(run: ResolvedRun, summary: RunSummary) -> None:
    """Tell the pipeline's notification block that the model was promoted or not, when it asked to hear it."""
    promotion = summary.evaluation.promotion
    settings = run.spec.notify
    if promotion is None or settings is None:
        return
    event = "promoted" if promotion.promoted else "not_promoted"
    if event in settings.on:
        notify.announce(settings, run.pipeline, event.replace("_", " "), summary.run_name, comparison_line(promotion))
