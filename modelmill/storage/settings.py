"""Where and with which credentials: read from the environment, never from pipelines.yaml."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime settings. `HF_TOKEN` is a `SecretStr`: it prints as '**********'."""

    model_config = SettingsConfigDict(env_prefix="MODELMILL_", extra="ignore")

    home: str = Field(".modelmill", description="Everything a run keeps: a local folder or an fsspec URL "
                      "(s3://bucket/prefix, gs://, abfs://).")
    storage_options: str | None = Field(None, description="JSON options of the home's filesystem (endpoint, "
                                        "region); never credentials, which come from the environment.")
    cache_dir: Path | None = Field(None, description="This machine's read cache and scratch for a remote home "
                                   "(default ~/.cache/modelmill).")
    cache_max_gb: float | None = Field(None, gt=0, description="Size limit of the read cache; least recently used "
                                       "outputs are evicted past it.")
    locks: str | None = Field(None, description="A lock manager across machines: redis://host:port/db. "
                              "Without it, cache keys are locked per machine.")
    ray_address: str = Field("auto", description="The Ray cluster of `train.engine: ray`: auto starts a local "
                             "one on 127.0.0.1 for the train stage; else an address ray.init accepts "
                             "(host:6379, ray://host:10001).")
    dask_address: str | None = Field(None, description="The Dask scheduler of `search.runner: dask` "
                                     "(tcp://host:8786); unset, a local cluster starts for the search.")
    price: float | None = Field(None, gt=0, allow_inf_nan=False, description="What a device-hour costs (a GPU's "
                                "where a stage used GPUs, else the machine's), in your currency: runs then show "
                                "a cost per stage and per release.")
    hf_token: SecretStr | None = Field(None, validation_alias=AliasChoices("HF_TOKEN", "MODELMILL_HF_TOKEN"))

    @property
    def local_home(self) -> Path:
        """The home on this machine: the home itself, or this machine's mirror of a remote one."""
        from modelmill.storage.home import current_home

        return current_home().local

    @property
    def artifacts(self) -> Path:
        return self.local_home / "artifacts"

    @property
    def lock_folder(self) -> Path:
        return self.local_home / "locks"


# the variables Settings reads, case-folded as pydantic-settings matches them; the last ones read, with what they gave
_VARIABLES = frozenset(["hf_token", *(f"modelmill_{name}" for name in Settings.model_fields)])
_last: tuple[tuple[tuple[str, str], ...], Settings] | None = None


def get_settings() -> Settings:
    """The settings as the environment sets them now (read again only when one of its variables changed: a run
    asks hundreds of times); a value that is not what its variable takes is a ConfigError naming the variable
    (never its value: HF_TOKEN is one)."""
    global _last
    from pydantic import ValidationError

    from modelmill.runtime.errors import ConfigError

    variables = tuple(sorted(item for item in os.environ.items() if item[0].lower() in _VARIABLES))
    if _last is not None and _last[0] == variables:
        return _last[1]
    try:
        settings = Settings()
        _last = (variables, settings)
        return settings
    except ValidationError as exc:
        problems = "; ".join(
            f"{'HF_TOKEN' if error['loc'][0] == 'hf_token' else 'MODELMILL_' + str(error['loc'][0]).upper()}: "
            f"{error['msg']}" for error in exc.errors())
        raise ConfigError(f"bad setting in the environment: {problems}") from None
