"""Deployments of pipelines that left the pipelines file are deleted, with the automations they own (a data
trigger), so none lingers paused or Late."""

from __future__ import annotations

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags, FlowFilter, FlowFilterName

from deployments.alerts import alert_name, delete_alert


def retire_stale_deployments(keep: set[str], pipelines_file: str, tag: str = "modelmill",
                             flow_name: str = "finetune") -> list[str]:
    """Delete deployments of flow `flow_name` (the pipelines' own, or their data watchers) of `pipelines_file`
    whose pipeline is not in `keep`; return their names."""
    with get_client(sync_client=True) as client:
        deployments = client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
            deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[tag])),
            limit=200,
        )
        retired = []
        for deployment in deployments:
            if deployment.name in keep or deployment.parameters.get("pipelines_file") != pipelines_file:
                continue
            client.delete_deployment(deployment.id)
            client.delete_resource_owned_automations(f"prefect.deployment.{deployment.id}")  # its data trigger
            if flow_name == "finetune":  # a watcher has no crash alert of its own
                delete_alert(client, alert_name(deployment.name))
            retired.append(deployment.name)
    return retired
