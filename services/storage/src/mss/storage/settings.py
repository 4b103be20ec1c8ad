"""Settings of the storage service (``MSS_STORAGE_*``)."""

from __future__ import annotations

import socket
from pathlib import Path

from mss.core.settings import DatabaseSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class StorageSettings(DatabaseSettings):
    """Storage: PostgreSQL holds the messages of hosted mailboxes."""

    model_config = SettingsConfigDict(env_prefix="MSS_STORAGE_", extra="ignore")

    workers: int = Field(default=8, description="Deliveries written concurrently")
    hostname: str = Field(default_factory=socket.getfqdn, description="Reporting MTA of delivery reports")
    publish_timeout: float = Field(default=5.0, description="Bound on a durable publish, seconds")
    session_public_key_file: Path | None = Field(
        default=None,
        description="Ed25519 public key (PEM) of the directory's session key: the mailbox API acts only for"
        " the identity a session signed with it names (empty: the mailbox API refuses everyone)",
    )
    retention_interval: float = Field(
        default=3600.0, gt=0, description="Seconds between two sweeps of expired hosted messages"
    )
