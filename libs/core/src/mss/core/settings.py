"""Settings base: every service reads its configuration from ``MSS_<SERVICE>_*`` variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Settings shared by all services; each service subclasses it with its own env prefix."""

    model_config = SettingsConfigDict(env_prefix="MSS_", extra="ignore")

    nats_url: str = Field(default="tls://127.0.0.1:4222", description="NATS server URL(s), comma-separated")
    nats_credentials_file: Path | None = Field(
        default=None,
        description="This component's NATS nkey seed (mode 600); the server refuses anonymous clients",
    )
    nats_ca_file: Path | None = Field(
        default=None,
        description="CA certificate(s) that sign the NATS server's certificate (empty: system roots)",
    )
    http_host: str = Field(default="127.0.0.1", description="Address of /healthz, /readyz, /metrics")
    http_port: int = Field(default=0, description="Port of the health/metrics endpoint (0: none)")
    http_tls_cert_file: Path | None = Field(
        default=None, description="Certificate chain (PEM) to serve the HTTP endpoint over HTTPS only"
    )
    http_tls_key_file: Path | None = Field(default=None, description="Private key (PEM) of that certificate")
    log_level: str = Field(default="INFO", description="Logging level")
    request_timeout: float = Field(default=2.0, description="Bound on a NATS request/reply, seconds")
    request_workers: int = Field(default=64, description="Requests answered concurrently")
    stream_replicas: int = Field(
        default=1,
        ge=1,
        le=5,
        description="Replicas of the JetStream streams this service owns (3 on a NATS cluster): set on"
        " creation and kept on each start",
    )
    otlp_endpoint: str = Field(
        default="",
        description="OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces (empty: none)",
    )


class DatabaseSettings(ServiceSettings):
    """Settings of a service that uses PostgreSQL."""

    database_url: str = Field(
        default="postgresql://mss@127.0.0.1:5432/mss", description="PostgreSQL connection URL"
    )
    database_pool_size: int = Field(default=5, description="Maximum connections in the pool")
