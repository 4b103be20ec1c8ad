"""Settings of the ``mss`` command (``MSS_CLI_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CliSettings(BaseSettings):
    """Where the backbone's NATS is, and the bounds the command works within."""

    model_config = SettingsConfigDict(env_prefix="MSS_CLI_", extra="ignore")

    nats_url: str = Field(default="nats://127.0.0.1:4222", description="NATS server URL(s), comma-separated")
    timeout: float = Field(default=5.0, description="Bound on connecting and on each NATS request, seconds")
    trust_list_max_bytes: int = Field(default=20_000_000, description="Largest list accepted, bytes")
