"""Settings of the tracing service (``MSS_TRACING_*``)."""

from __future__ import annotations

from mss.core.settings import DatabaseSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class TracingSettings(DatabaseSettings):
    """Tracing: the timeline store and its HTTP API."""

    model_config = SettingsConfigDict(env_prefix="MSS_TRACING_", extra="ignore")

    http_port: int = 8080
    workers: int = Field(default=8, description="Audit events written concurrently")
