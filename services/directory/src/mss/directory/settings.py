"""Settings of the directory service (``MSS_DIRECTORY_*``)."""

from __future__ import annotations

from mss.core.settings import DatabaseSettings
from pydantic_settings import SettingsConfigDict


class DirectorySettings(DatabaseSettings):
    """Directory: PostgreSQL holds tenants, domains and mailboxes."""

    model_config = SettingsConfigDict(env_prefix="MSS_DIRECTORY_", extra="ignore")

    http_port: int = 8081
