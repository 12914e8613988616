"""Read the head of the pipeline's Hub repo: what a release decision compares against and commits on."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from modelmill.config import PushSpec
from modelmill.hub.client import hub_api
from modelmill.hub.errors import hub_errors
from modelmill.hub.head import HubHead, read_head
from modelmill.observe.timing import timed
from modelmill.runtime.retry import retry_if_transient
from modelmill.storage.secrets import hub_online, push_credentials


@task(name="hub_head", cache_policy=NO_CACHE, persist_result=False, retry_condition_fn=retry_if_transient)
@timed("hub_head")
def read_hub_head(spec: PushSpec) -> HubHead | None:
    """`main` of `push.repo_id` as it is now (never cached: the Hub changes); None when the Hub is switched off."""
    if not hub_online():
        return None
    token, _ = push_credentials(spec.token_secret_block)
    api = hub_api(spec, token)
    with hub_errors(spec.endpoint, spec.repo_id, api.token):
        return read_head(api, spec.repo_id)
