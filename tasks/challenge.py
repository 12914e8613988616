"""Stage 6 (with `evaluate.promote`): score the published model on the same test split and decide who stays."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.logging import get_run_logger

from modelmill.config import EvaluateSpec, PushSpec, TokenizerSpec
from modelmill.hub.challenge import challenge
from modelmill.hub.client import hub_api
from modelmill.hub.head import HubHead
from modelmill.hub.promotion import Promotion, comparison_table
from modelmill.manifests import DataManifest, EvaluationReport, ModelManifest
from modelmill.observe.timing import timed
from modelmill.runtime.errors import ConfigError
from modelmill.runtime.retry import retry_if_transient
from modelmill.storage.caching import STAGE
from modelmill.storage.secrets import push_credentials


@task(name="challenge", cache_policy=STAGE, persist_result=True, retry_condition_fn=retry_if_transient)
@timed("challenge")
def challenge_champion(
    model: ModelManifest,
    data: DataManifest,
    spec: EvaluateSpec,
    report: EvaluationReport,
    push: PushSpec,
    head: HubHead | None,
    pipeline: str,
    tokenizer: TokenizerSpec,
) -> Promotion:
    """Compare the new model with the one published at `head` (its cache key: a decision holds for that head
    only, and a moved head decides again)."""
    challenger = {**report.metrics, **report.per_class}
    assert spec.promote is not None
    missing = [guard.name for guard in spec.promote.guards if guard.name not in challenger]
    if missing:
        raise ConfigError(f"evaluate.promote.guards: no metric {missing} (labels are {model.labels})")
    token, _ = push_credentials(push.token_secret_block)
    api = hub_api(push, token) if head is not None else None
    sets = {scores.name: {**scores.metrics, **scores.per_class} for scores in report.sets}
    promotion = challenge(spec, api, head, model.labels, challenger, data, tokenizer, sets, model)
    comparison = comparison_table(promotion)
    create_markdown_artifact(markdown=f"## Champion vs challenger\n\n{comparison}",
                             description=f"Promotion decision of pipeline '{pipeline}'")
    get_run_logger().info("Champion vs challenger:\n%s", comparison)
    return promotion
