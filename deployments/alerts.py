"""Server automations that notify when a deployment run crashes: they fire even when the run's process was
killed (SIGKILL, out of memory), which no in-process hook survives."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from modelmill.config import NotifySpec
from modelmill.runtime.errors import ConfigError

BODY = """Pipeline '{pipeline}' crashed (run {{{{ flow_run.name }}}}).

{{{{ flow_run.state.message }}}}

Run: {{{{ flow_run|ui_url }}}}"""


def alert_name(pipeline: str) -> str:
    return f"modelmill-{pipeline}-crashed"


def delete_alert(client: Any, name: str) -> None:
    for automation in client.read_automations_by_name(name):
        client.delete_automation(automation.id)


def sync_crash_alerts(pipelines: dict[str, tuple[UUID, NotifySpec | None]]) -> None:
    """For each pipeline: (re)create its crash alert on its deployment, or remove it when `notify` asks for none."""
    from prefect.automations import AutomationCore, EventTrigger, Posture, SendNotification
    from prefect.blocks.core import Block
    from prefect.client.orchestration import get_client
    from prefect.events.schemas.events import ResourceSpecification

    with get_client(sync_client=True) as client:
        for pipeline, (deployment_id, notify) in pipelines.items():
            delete_alert(client, alert_name(pipeline))
            if notify is None or "crashed" not in notify.on:
                continue
            try:
                block = Block.load(notify.block)
            except ValueError as exc:
                raise ConfigError(
                    f"pipelines.{pipeline}.notify.block: cannot load Prefect block '{notify.block}' ({exc}); "
                    "create it first (Prefect UI > Blocks, or Block.save in Python)"
                ) from None
            client.create_automation(
                AutomationCore(
                    name=alert_name(pipeline),
                    description=f"modelmill: notify '{notify.block}' when a run of '{pipeline}' crashes",
                    trigger=EventTrigger(
                        expect={"prefect.flow-run.Crashed"},
                        match_related=ResourceSpecification(
                            {"prefect.resource.id": f"prefect.deployment.{deployment_id}"}
                        ),
                        posture=Posture.Reactive,
                        threshold=1,
                    ),
                    actions=[
                        SendNotification(
                            block_document_id=block._block_document_id,
                            subject=f"modelmill: pipeline '{pipeline}' crashed",
                            body=BODY.format(pipeline=pipeline),
                        )
                    ],
                )
            )
