"""Settings of the controller (``MSS_CONTROLLER_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ControllerSettings(BaseSettings):
    """The controller: MssTenant resources of one namespace into the directory's admin API."""

    model_config = SettingsConfigDict(env_prefix="MSS_CONTROLLER_", extra="ignore")

    admin_url: str = Field(default="http://127.0.0.1:8081", description="The directory's admin API")
    admin_token: SecretStr = Field(default=SecretStr(""), description="Bearer token of the admin API")
    admin_ca_file: Path | None = Field(default=None, description="CA of an HTTPS admin API (none: system)")
    admin_timeout: float = Field(default=10.0, gt=0, description="Bound on one admin API request, seconds")
    namespace: str = Field(default="default", description="Namespace whose MssTenant resources it reconciles")
    resync: float = Field(
        default=300.0, gt=0, description="Seconds between two full reconciliations (a watch ends and relists)"
    )
    log_level: str = Field(default="INFO", description="Logging level")
    http_host: str = Field(default="127.0.0.1", description="Address of /healthz and /readyz")
    http_port: int = Field(default=0, description="Port of /healthz and /readyz (0: none)")
