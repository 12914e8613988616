"""`modelmill` command line: run, check and list pipelines, print the schema of pipelines.yaml."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from modelmill.spec_file import DEFAULT_FILE


def cmd_run(args: argparse.Namespace) -> int:
    from modelmill.overrides import parse_cli_overrides
    from modelmill.reporting import run_summary
    from modelmill.runs import resolve_run

    overrides = parse_cli_overrides(
        args.set, force_retrain=args.force_retrain, dry_run=args.dry_run, note=args.note
    )
    resolve_run(args.pipeline, args.file, overrides)  # fail on a bad file or override before Prefect starts
    from flows.finetune import finetune

    summary = finetune(pipeline=args.pipeline, pipelines_file=str(args.file), **overrides.model_dump())
    print("\n" + run_summary(summary))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from deployments.pipelines import serve_pipelines

    serve_pipelines(args.file)
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from deployments.pipelines import deploy_pipelines

    deployed = deploy_pipelines(args.file, args.pool)
    print(f"Deployed {', '.join(f'finetune/{name}' for name in deployed)} to work pool '{args.pool}'.")
    print(f"Start a worker from this folder: prefect worker start --pool {args.pool}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from modelmill.spec_file import load_pipelines

    pipelines = load_pipelines(args.file).pipelines
    print(f"{args.file}: OK ({len(pipelines)} pipeline(s): {', '.join(pipelines)})")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from modelmill.spec_file import load_pipelines

    for name, spec in load_pipelines(args.file).pipelines.items():
        schedule = f"cron '{spec.schedule.cron}' {spec.schedule.timezone}" if spec.schedule else "no schedule"
        print(f"{name:<20} {spec.model.name_or_path} -> {spec.push.repo_id} ({schedule})")
        if spec.description:
            print(f"{'':<20} {spec.description}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from modelmill.spec import PipelinesFile

    print(json.dumps(PipelinesFile.model_json_schema(), indent=2))
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="modelmill", description="Declarative fine-tuning pipelines on Prefect.")
    commands = root.add_subparsers(dest="command", required=True)

    def add(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        if name != "schema":
            sub.add_argument("-f", "--file", default=DEFAULT_FILE, help="pipelines file (default: %(default)s)")
        return sub

    run = add("run", cmd_run, "Run one pipeline end to end (embedded Prefect unless PREFECT_API_URL is set).")
    run.add_argument("pipeline")
    run.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override for this run: train.epochs, train.learning_rate, train.batch_size, train.max_steps, "
        "train.seed (repeatable)",
    )
    run.add_argument("--force-retrain", action="store_true", help="train again even if a cached model exists")
    run.add_argument("--dry-run", action="store_true", help="write the files that would be pushed, push nothing")
    run.add_argument("--note", default="", help="why this run was started (shown in its artifacts)")
    add("check", cmd_check, "Validate pipelines.yaml without running anything.")
    add("list", cmd_list, "List the pipelines in pipelines.yaml.")
    add("schema", cmd_schema, "Print the JSON schema of pipelines.yaml.")
    add("serve", cmd_serve, "Serve one scheduled Prefect deployment per pipeline from this process.")
    add("deploy", cmd_deploy, "Create one scheduled deployment per pipeline on a Prefect work pool.").add_argument(
        "--pool", default="modelmill", help="work pool (a process pool is created if missing; default: %(default)s)"
    )
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from modelmill.errors import ModelmillError

    try:
        return args.handler(args)
    except ModelmillError as exc:
        print(f"modelmill: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
