"""Deployments: one per pipeline, with the YAML's cron schedule and the spec as default parameters."""

from __future__ import annotations

from pathlib import Path

from deployments.pipelines import build_deployments
from modelmill.spec import PipelineSpec

REPO_ROOT = Path(__file__).parents[1]


def test_each_pipeline_becomes_a_scheduled_deployment_with_its_spec_as_parameters():
    (deployment,) = build_deployments(REPO_ROOT / "pipelines.yaml")
    assert deployment.name == "sentiment"
    assert [s.schedule.cron for s in deployment.schedules] == ["0 3 * * 1"]
    assert deployment.parameters["pipeline_name"] == "sentiment"
    assert PipelineSpec.model_validate(deployment.parameters["pipeline"]).push.repo_id.endswith("sentiment-minilm")
    properties = deployment._parameter_openapi_schema.properties
    assert set(properties) == {"pipeline_name", "pipeline"}, "the UI form is built from the typed parameters"
