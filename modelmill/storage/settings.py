"""Where and with which credentials: read from the environment, never from pipelines.yaml."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime settings. `HF_TOKEN` is a `SecretStr`: it prints as '**********'."""

    model_config = SettingsConfigDict(env_prefix="MODELMILL_", extra="ignore")

    home: Path = Field(Path(".modelmill"), description="Artifacts (data, tokens, models) and Prefect results.")
    hf_token: SecretStr | None = Field(None, validation_alias=AliasChoices("HF_TOKEN", "MODELMILL_HF_TOKEN"))

    @property
    def artifacts(self) -> Path:
        return self.home.resolve() / "artifacts"

    @property
    def results(self) -> Path:
        return self.home.resolve() / "prefect-results"

    @property
    def locks(self) -> Path:
        return self.home.resolve() / "locks"


def get_settings() -> Settings:
    return Settings()
