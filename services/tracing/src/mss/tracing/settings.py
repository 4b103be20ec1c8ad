"""Settings of the tracing service (``MSS_TRACING_*``)."""

from __future__ import annotations

from mss.core.settings import DatabaseSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class TracingSettings(DatabaseSettings):
    """Tracing: the timeline store and its HTTP API."""

    model_config = SettingsConfigDict(env_prefix="MSS_TRACING_", extra="ignore")

    http_port: int = 8080
    batch: int = Field(default=256, description="Audit events written per INSERT round trip")
    linger: float = Field(default=0.2, description="Longest wait to fill a batch, seconds")
