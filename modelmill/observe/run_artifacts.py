"""Prefect artifacts every run publishes, cached or not: the spec it used and a summary of what happened."""

from __future__ import annotations

import yaml
from prefect.artifacts import create_markdown_artifact

from modelmill.config.runs import ResolvedRun
from modelmill.storage.artifacts import prefect_artifact_key


def run_origin(run: ResolvedRun, deployment_id: object | None, auto_scheduled: bool) -> str:
    """scheduled / manual (a deployment run someone started) / cli / experiment (a run with overrides)."""
    if run.overrides.is_experiment:
        return "experiment"
    if deployment_id is None:
        return "cli"
    return "scheduled" if auto_scheduled else "manual"


def publish_spec(run: ResolvedRun) -> None:
    """The resolved spec of the run and its hash, attached to the run."""
    spec = yaml.safe_dump(run.spec.model_dump(mode="json"), sort_keys=False)
    overrides = run.overrides.model_dump(exclude_defaults=True)
    create_markdown_artifact(
        markdown="\n".join(
            [
                f"## Spec of pipeline `{run.pipeline}` (hash `{run.spec_hash}`)",
                "",
                f"Read from `{run.file}` when the run started; overrides: `{overrides or 'none'}`.",
                "",
                "```yaml",
                spec.rstrip(),
                "```",
            ]
        ),
        description=f"Resolved spec {run.spec_hash}",
    )


def publish_summary(pipeline: str, origin: str, markdown: str, description: str) -> None:
    """The run summary, attached to the run and versioned under `<pipeline>-<origin>-summary`, so the
    latest scheduled run is never confused with an experiment or a CLI run."""
    create_markdown_artifact(
        key=prefect_artifact_key(pipeline, f"{origin}-summary"), markdown=markdown, description=description
    )
