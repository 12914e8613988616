"""`modelmill` command line: run, check, list, serve and deploy pipelines; print the schema of pipelines.yaml.

Exit codes: 0 success (promoted and pushed, or a dry run), 1 a modelmill error (its message says what to fix) or
an unexpected one (traceback printed once), 2 bad command-line usage, 3 not promoted (the run worked; the
published model stays), 130 interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence

from modelmill.config.file import DEFAULT_FILE

BAD_USAGE = 2  # as argparse exits on a bad command line
NOT_PROMOTED = 3
INTERRUPTED = 130


def cmd_run(args: argparse.Namespace) -> int:
    from modelmill.config import parse_cli_overrides, resolve_run
    from modelmill.observe.reporting import run_summary
    from modelmill.observe.run_names import run_name
    from modelmill.runtime.preflight import require_ready
    from modelmill.runtime.server import prefect_api, start_early
    from modelmill.storage.run_records import ran_before
    from modelmill.storage.settings import get_settings

    overrides = parse_cli_overrides(args.set, force_retrain=args.force_retrain, dry_run=args.dry_run, note=args.note)
    run = resolve_run(args.pipeline, args.file, overrides)
    state = get_settings().local_home / "prefect-server"
    # a run that cannot be all cache hits (none of this spec ended here, or a retrain is forced) boots its temporary
    # server while the flow is imported and probed; a run that may be all hits starts none
    early = start_early(state) if overrides.force_retrain or not ran_before(args.pipeline, run.spec_hash) else None
    try:
        from flows.finetune import finetune, run_stages
        from modelmill.storage.cache_probe import CacheProbe, NotCached

        try:  # every stage cached: the summary from their records, no data, model or server loaded
            summary = run_stages(run, CacheProbe())
        except NotCached:
            summary = None
        if summary is None:  # the checks before any work run while the temporary server (if any) boots
            with prefect_api(state, while_starting=lambda: require_ready(args.pipeline, run.spec, args.file),
                             early=early):
                # named from its first log line on (not Prefect's random name, renamed a moment later)
                named = finetune.with_options(flow_run_name=run_name(args.pipeline, run.spec_hash))
                summary = named(pipeline=args.pipeline, pipelines_file=str(args.file), **overrides.model_dump())
    finally:
        if early is not None:
            early.stop()
    print("\n" + run_summary(summary))
    return 0 if summary.promoted else NOT_PROMOTED


def cmd_validate(args: argparse.Namespace) -> int:
    from modelmill.config.overrides import RunOverrides
    from modelmill.config.runs import resolve_run
    from modelmill.runtime.server import prefect_api
    from modelmill.storage.settings import get_settings

    resolve_run(args.pipeline, args.file, RunOverrides())  # a bad file fails before Prefect starts
    from flows.validate import validate_pipeline
    from tasks.validate import describe_result

    with prefect_api(get_settings().local_home / "prefect-server"):
        report = validate_pipeline(pipeline=args.pipeline, pipelines_file=str(args.file))
    print(f"\nPipeline '{args.pipeline}': data {report.summary()}.")
    for result in report.warnings:
        print(describe_result(result)[0])
    print(f"Data Docs: {report.data_docs}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from modelmill.config import load_pipelines, select_pipeline
    from modelmill.runtime.preflight import problems_of, refusal

    pipelines = load_pipelines(args.file).pipelines
    names = [args.pipeline] if args.pipeline else list(pipelines)
    found = problems_of(args.file, {name: select_pipeline(pipelines, name, args.file) for name in names})
    failed = [refusal(args.file, name, problems) for name, problems in found.items() if problems]
    if failed:
        print("\n".join(failed), file=sys.stderr)
        return 1
    print(f"{args.file}: OK ({len(names)} pipeline(s) checked with their data, model and metrics: {', '.join(names)})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from deployments.pipelines import serve_pipelines

    serve_pipelines(args.file)
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from deployments.pipelines import deploy_pipelines
    from modelmill.config import load_pipelines

    deployed, retired = deploy_pipelines(args.file, args.pool)
    pools = {name: spec.deploy.work_pool or args.pool for name, spec in load_pipelines(args.file).pipelines.items()}
    for pool in dict.fromkeys(pools.values()):
        names = ", ".join(f"finetune/{name}" for name in deployed if pools[name] == pool)
        print(f"Deployed {names} to work pool '{pool}'.")
    for name in retired:
        print(f"Retired finetune/{name}: pipeline '{name}' is no longer in {args.file}.")
    print("Start a worker in the project folder (or set MODELMILL_PROJECT_ROOT to it): "
          + "; ".join(f"prefect worker start --pool {pool}" for pool in dict.fromkeys(pools.values())))
    return 0


def _hub_for(args: argparse.Namespace, need_token: bool):
    from modelmill.config.file import load_pipeline
    from modelmill.hub.client import hub_api
    from modelmill.runtime.errors import ConfigError
    from modelmill.storage.secrets import hub_token

    push = load_pipeline(args.pipeline, args.file).push
    token = hub_token(push.token_secret_block)
    if need_token and token is None:
        raise ConfigError("a rollback writes to the Hub: set HF_TOKEN (or push.token_secret_block)")
    return hub_api(push, token), push.repo_id


def cmd_releases(args: argparse.Namespace) -> int:
    from modelmill.hub.releases import list_releases
    from modelmill.observe.release_history import figure_path, history, history_png, history_table
    from modelmill.runtime.errors import ModelmillError

    api, repo_id = _hub_for(args, need_token=False)
    try:
        releases = list_releases(api, repo_id)
    except ModelmillError as exc:  # offline, or the Hub unreachable: this machine's history still shows
        print(f"{repo_id}: the Hub's releases cannot be listed: {exc}")
        releases = None
    if releases == []:
        print(f"{repo_id}: no release yet")
    elif releases:
        print(f"Releases of {repo_id} ({api.endpoint}):")
    for release in releases or []:
        metrics = ", ".join(f"{name} {value:.4f}" for name, value in release.metrics.items())
        head = f"  <- {release.head}" if release.head else ""
        print(f"  {release.tag:<5} {release.date}  {release.commit_oid[:8]}  {metrics}{head}")
    rows = history(args.pipeline)
    if rows:
        figure = history_png(rows, figure_path(args.pipeline))
        print(f"\nRuns of {args.pipeline} recorded in this home, newest first:\n{history_table(rows)}")
        if figure:
            print(f"Main metric per run: {figure}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from modelmill.hub.releases import rollback
    from modelmill.runtime.errors import ConfigError

    api, repo_id = _hub_for(args, need_token=True)
    if not args.yes and not sys.stdin.isatty():
        raise ConfigError(f"rollback of {repo_id} to {args.tag} needs a confirmation and there is no terminal to ask "
                          "in: pass --yes")
    if not args.yes:
        answer = input(f"Republish release {args.tag} of {repo_id} as its new head? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("Nothing changed.")
            return 1
    with tempfile.TemporaryDirectory(prefix="modelmill-rollback-") as scratch:
        url = rollback(api, repo_id, args.tag, Path(scratch))
    record_rollback(args.pipeline, repo_id, args.tag, url)
    print(f"{repo_id} now serves the files of {args.tag}: {url}")
    return 0


def record_rollback(pipeline: str, repo_id: str, tag: str, url: str) -> None:
    """A roll-back in the pipeline's history of runs, as a run that released `tag` again."""
    from modelmill.observe.release_history import ROLLED_BACK
    from modelmill.storage.run_records import Release, RunRecord, now, write_record

    stamp = now()
    write_record(RunRecord(pipeline=pipeline, run_id=f"rollback-{stamp}", started=stamp, finished=stamp,
                           status=ROLLED_BACK, release=Release(repo_id=repo_id, tag=tag, commit=url.rsplit("/", 1)[-1]),
                           figures={"run_name": "modelmill rollback", "reason": f"{tag} republished by hand"}))


def cmd_gc(args: argparse.Namespace) -> int:
    from modelmill.storage.gc import collect
    from modelmill.storage.settings import get_settings

    home = get_settings().local_home
    result = collect(args.keep_last, args.checkpoint_days, args.dry_run)
    verb = "Would remove" if args.dry_run else "Removed"
    for path, size in result.remove:
        print(f"  {verb.split()[-1].lower()} {path.relative_to(home)} ({size / 2**20:.1f} MiB)")
    print(f"{verb} {len(result.remove)} item(s), {result.freed / 2**20:.1f} MiB, from {home}; kept "
          f"{len(result.keep)} artifact folder(s) that the last {args.keep_last} runs of each pipeline, the releases "
          "and the running runs use.")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from modelmill.config.file import load_pipelines

    for name, spec in load_pipelines(args.file).pipelines.items():
        schedule = f"cron '{spec.schedule.cron}' {spec.schedule.timezone}" if spec.schedule else "no schedule"
        if spec.trigger:
            schedule += f"; on data changes, polled every {spec.trigger.poll}"
        print(f"{name:<20} {spec.model.origin} -> {spec.push.repo_id} ({schedule})")
        if spec.description:
            print(f"{'':<20} {spec.description}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from modelmill.config import PipelinesFile

    print(json.dumps(PipelinesFile.model_json_schema(), indent=2))
    return 0


def bounded(kind: type, low: float, high: float):
    """An argparse type: a `kind` number in [low, high]."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not in [{low}, {high}]")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="modelmill", description="Declarative fine-tuning pipelines on Prefect.")
    root.add_argument(
        "--debug", action="store_true", default=os.environ.get("MODELMILL_DEBUG", "") not in ("", "0"),
        help="show every traceback (also MODELMILL_DEBUG=1)",
    )
    commands = root.add_subparsers(dest="command", required=True)

    def add(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        if name not in ("schema", "gc"):
            sub.add_argument("-f", "--file", default=DEFAULT_FILE, help="pipelines file (default: %(default)s)")
        return sub

    run = add("run", cmd_run, "Run one pipeline end to end (a temporary Prefect server unless PREFECT_API_URL is set).")
    run.add_argument("pipeline")
    run.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override for this run: train.epochs, train.learning_rate, train.batch_size, train.max_steps, "
        "train.seed (repeatable)",
    )
    run.add_argument("--force-retrain", action="store_true", help="train again even if a cached model exists")
    run.add_argument("--dry-run", action="store_true", help="write the files that would be pushed, push nothing")
    run.add_argument("--note", default="", help="why this run was started (shown in its artifacts)")
    add("validate", cmd_validate, "Load and validate one pipeline's data, without training (shares the cache).") \
        .add_argument("pipeline")
    add("check", cmd_check, "Check the file, and each pipeline's data, model, max_length, metrics and rule columns.") \
        .add_argument("pipeline", nargs="?", help="check only this pipeline")
    add("list", cmd_list, "List the pipelines in pipelines.yaml.")
    add("releases", cmd_releases, "List a pipeline's releases on the Hub (tag, date, commit, metrics), then every run "
        "recorded in this home: outcome, version, data, spec, main metric against the champion, cost.") \
        .add_argument("pipeline")
    rollback = add("rollback", cmd_rollback, "Republish a release's files as the new head of the Hub repo.")
    rollback.add_argument("pipeline")
    rollback.add_argument("tag", help="the release to bring back, e.g. v3")
    rollback.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    gc = add("gc", cmd_gc, "Remove the artifacts and cache records no kept run uses (MODELMILL_HOME).")
    gc.add_argument("--keep-last", type=bounded(int, 0, 10_000), default=5, metavar="N",
                    help="keep what the last N runs of each pipeline use (default: %(default)s); released models "
                    "and running runs are always kept")
    gc.add_argument("--checkpoint-days", type=bounded(float, 0, 3_650), default=7.0, metavar="DAYS",
                    help="keep training checkpoints of unfinished runs this long (default: %(default)s)")
    gc.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    add("schema", cmd_schema, "Print the JSON schema of pipelines.yaml.")
    add("serve", cmd_serve, "Serve one scheduled Prefect deployment per pipeline from this process.")
    add("deploy", cmd_deploy, "Create one scheduled deployment per pipeline on a Prefect work pool.").add_argument(
        "--pool", default="modelmill", help="work pool (a process pool is created if missing; default: %(default)s)"
    )
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from modelmill.runtime.telemetry import switch_off_telemetry

    switch_off_telemetry()  # before any library reads its settings
    from modelmill.runtime.errors import ModelmillError, UsageError

    if not args.debug:
        from modelmill.observe import readable_failures

        readable_failures.install()
    if args.command in ("run", "check", "validate"):
        from modelmill.observe.quiet import quiet_by_environment

        quiet_by_environment()
    try:
        return args.handler(args)
    except ModelmillError as exc:
        if args.debug:
            raise
        print(f"modelmill: {type(exc).__name__}: {exc}", file=sys.stderr)
        return BAD_USAGE if isinstance(exc, UsageError) else 1
    except KeyboardInterrupt:
        print("modelmill: interrupted; a later run resumes training from the last complete checkpoint", file=sys.stderr)
        return INTERRUPTED
    except Exception as exc:
        if args.debug:
            raise
        traceback.print_exc()
        print(f"modelmill: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def entry() -> None:
    """The `modelmill` command: `main`, then an exit without the heavy libraries' teardown."""
    from modelmill.runtime.exiting import exit_promptly

    exit_promptly(main())


if __name__ == "__main__":
    entry()
