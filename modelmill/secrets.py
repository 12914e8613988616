"""The Hub token: from the environment first, else from a Prefect Secret block."""

from __future__ import annotations

from pydantic import SecretStr

from modelmill.errors import ConfigError
from modelmill.settings import get_settings


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
