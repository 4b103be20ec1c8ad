"""Settings of the policy service (``MSS_POLICY_*``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mss.core.rules import RULESET
from mss.core.settings import ServiceSettings
from mss.core.tls import DnMatch
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict


class PolicySettings(ServiceSettings):
    """Policy: the allowed-domain list, its source and refresh, and the bound on directory lookups."""

    model_config = SettingsConfigDict(env_prefix="MSS_POLICY_", extra="ignore")

    trust_list_path: Path = Field(
        default=Path("deploy/demo/listeblanchemssante.xml"),
        description="ANS allowed-domain list (listeblanchemssante.xml format), used when no URL is set",
    )
    trust_list_url: str = Field(
        default="", description="HTTPS URL of the allowed-domain list (takes precedence over the path)"
    )
    trust_list_checksum_url: str = Field(
        default="",
        description="SHA-256 of the list in ANS `checksum` format: an HTTPS URL or a file (empty: none)",
    )
    trust_list_ca_file: Path | None = Field(
        default=None, description="PEM CA bundle pinned for the HTTPS source (the system store is never used)"
    )
    trust_list_refresh: float = Field(
        default=3600.0, description="Seconds between checks of the source for a new list (0: never)"
    )
    trust_list_max_bytes: int = Field(default=20_000_000, description="Largest list accepted, bytes")
    trust_list_fetch_timeout: float = Field(default=30.0, description="Bound on one download, seconds")
    dn_match: DnMatch = Field(
        default=DnMatch.DN, description="Match a peer's certificate on the listed full DN (dn) or CN (cn)"
    )
    directory_timeout: float = Field(default=1.0, description="Bound on a directory lookup, seconds")
    directory_cache_ttl: float = Field(
        default=5.0, description="Seconds a directory answer is reused (0: ask every time)"
    )
    directory_cache_size: int = Field(default=100_000, description="Directory answers kept at most")
    rate_per_sender: int = Field(
        default=600,
        ge=0,
        description="Messages per rate_period from one identity or applicative mailbox (0: off)",
    )
    rate_per_peer: int = Field(
        default=6000, ge=0, description="Messages per rate_period from one peer operator certificate (0: off)"
    )
    rate_period: float = Field(default=60.0, gt=0, description="Seconds of the two rates above")
    patient_hash_key: SecretStr = Field(
        default=SecretStr(""),
        description="Key of the patient (INS) hashes kept for audit search; empty: patients not indexed",
    )
    route_batch: int = Field(default=32, description="Accepted messages routed concurrently")
    storage_timeout: float = Field(
        default=1.0, description="Bound on asking storage how full a hosted mailbox is, seconds"
    )

    def version(self) -> str:
        """The policy version every verdict records: the rule set, and a digest of the settings that
        take part in decisions (the establishments' own rules are in the directory version)."""
        deciding = self.model_dump(
            include={"dn_match", "rate_per_sender", "rate_per_peer", "rate_period"}, mode="json"
        )
        digest = hashlib.sha256(json.dumps(deciding, sort_keys=True).encode()).hexdigest()[:8]
        return f"{RULESET}/{digest}"
