"""Settings of the policy service (``MSS_POLICY_*``)."""

from __future__ import annotations

from pathlib import Path

from mss.core.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class PolicySettings(ServiceSettings):
    """Policy: the allowed-domain list and the bound on directory lookups."""

    model_config = SettingsConfigDict(env_prefix="MSS_POLICY_", extra="ignore")

    trust_list_path: Path = Field(
        default=Path("deploy/demo/listeblanchemssante.xml"),
        description="ANS allowed-domain list (listeblanchemssante.xml format)",
    )
    directory_timeout: float = Field(default=1.0, description="Bound on a directory lookup, seconds")
    directory_cache_ttl: float = Field(
        default=5.0, description="Seconds a directory answer is reused (0: ask every time)"
    )
    directory_cache_size: int = Field(default=100_000, description="Directory answers kept at most")
    route_batch: int = Field(default=32, description="Accepted messages routed concurrently")
