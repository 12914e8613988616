"""`modelmill` command line: run, check and list pipelines, print the schema of pipelines.yaml."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from modelmill.spec_file import DEFAULT_FILE


def _prepare_prefect() -> None:
    """Keep Prefect results next to the artifacts they point to, unless the user configured otherwise."""
    from modelmill.settings import get_settings

    os.environ.setdefault("PREFECT_LOCAL_STORAGE_PATH", str(get_settings().results))


def cmd_run(args: argparse.Namespace) -> int:
    _prepare_prefect()
    from modelmill.reporting import run_summary
    from modelmill.spec_file import load_pipeline

    spec = load_pipeline(args.pipeline, args.file)
    from flows.finetune import finetune

    summary = finetune(pipeline_name=args.pipeline, pipeline=spec)
    print("\n" + run_summary(summary))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    _prepare_prefect()
    from deployments.pipelines import serve_pipelines

    serve_pipelines(args.file)
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

    add("run", cmd_run, "Run one pipeline end to end (embedded Prefect).").add_argument("pipeline")
    add("check", cmd_check, "Validate pipelines.yaml without running anything.")
    add("list", cmd_list, "List the pipelines in pipelines.yaml.")
    add("schema", cmd_schema, "Print the JSON schema of pipelines.yaml.")
    add("serve", cmd_serve, "Serve one scheduled Prefect deployment per pipeline.")
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
