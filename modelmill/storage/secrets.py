"""The Hub token: from the environment first, else from a Prefect Secret block."""

from __future__ import annotations

from pydantic import SecretStr

from modelmill.runtime.errors import ConfigError
from modelmill.storage.settings import get_settings


def hub_token(secret_block: str | None) -> SecretStr | None:
    """`HF_TOKEN` if set, else the named Prefect Secret block, else None (a dry run)."""
    token = get_settings().hf_token
    if token is not None and token.get_secret_value():
        return token
    if secret_block is None:
        return None
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(secret_block).get()
    except ValueError as exc:
        raise ConfigError(f"push.token_secret_block: cannot load Prefect Secret block '{secret_block}': {exc}") from None
    return SecretStr(str(value)) if value else None


def hub_online() -> bool:
    """False when HF_HUB_OFFLINE switches the Hub off: nothing is read from or sent to it."""
    from huggingface_hub import constants

    return not constants.HF_HUB_OFFLINE


def push_credentials(secret_block: str | None) -> tuple[SecretStr | None, str]:
    """The token to push with, or None and why the push is a dry run (no token, or the Hub is switched off)."""
    if not hub_online():
        return None, "HF_HUB_OFFLINE is set, so nothing goes to the Hub (unset it to push)"
    token = hub_token(secret_block)
    if token is None:
        return None, "No Hub token (HF_TOKEN or push.token_secret_block)"
    return token, ""
