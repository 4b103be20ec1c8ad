"""Settings of the tracing service (``MSS_TRACING_*``)."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

from mss.core.settings import DatabaseSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict


class TracingSettings(DatabaseSettings):
    """Tracing: the timeline store, its audit API and web UI."""

    model_config = SettingsConfigDict(env_prefix="MSS_TRACING_", extra="ignore")

    http_port: int = 8080
    batch: int = Field(default=256, description="Audit events written per INSERT round trip")
    linger: float = Field(default=0.2, description="Longest wait to fill a batch, seconds")
    session_hours: float = Field(default=8.0, gt=0, description="Lifetime of a signed-in session, hours")
    password_cost: int = Field(
        default=15, ge=10, le=20, description="scrypt cost of account passwords: N = 2**password_cost"
    )
    sign_in_max_failures: int = Field(
        default=5,
        ge=1,
        description="Failed sign-ins per login (ten times as many per address) before a pause",
    )
    sign_in_failure_window: float = Field(
        default=300.0, gt=0, description="Seconds over which failed sign-ins are counted"
    )
    trusted_proxies: list[IPv4Network | IPv6Network] = Field(
        default_factory=list,
        description="Networks of the proxies in front (an ingress controller), whose X-Forwarded-For gives"
        " the client's address for sign-in limits and the access log; none: the connection's address",
    )
    export_key_file: Path | None = Field(
        default=None, description="Ed25519 private key (PEM) signing audit exports; none: no export"
    )
    patient_hash_key: SecretStr = Field(
        default=SecretStr(""),
        description="The key policy hashes patient identifiers with (search by patient; empty: none)",
    )
    anchor_interval: float = Field(
        default=300.0, gt=0, description="Seconds between two anchors of the chain heads outside the database"
    )
    unattributed_retention_months: int = Field(
        default=120, ge=1, description="Months kept for audit events without an establishment"
    )
    retention_interval: float = Field(
        default=3600.0, gt=0, description="Seconds between two retention sweeps of the audit store"
    )
