"""Settings of the directory service (``MSS_DIRECTORY_*``)."""

from __future__ import annotations

from pathlib import Path

from mss.core.settings import DatabaseSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict


class DirectorySettings(DatabaseSettings):
    """Directory: PostgreSQL holds tenants, domains, mailboxes, credentials and delegations."""

    model_config = SettingsConfigDict(env_prefix="MSS_DIRECTORY_", extra="ignore")

    http_port: int = 8081
    registry_refresh: float = Field(
        default=1.0, gt=0, description="Seconds between checks for registry changes made by other replicas"
    )
    admin_tokens: dict[str, SecretStr] = Field(
        default={},
        description='Bearer tokens of the admin API by name, e.g. {"ops-alice": "…"} (none: API closed)',
    )
    admin_token_tenants: dict[str, str] = Field(
        default={},
        description='Tokens limited to one establishment, by name, e.g. {"dsi-chu": "chu-demo"}: such a token'
        " sees and changes only that establishment and its mailboxes; the others are GHT-wide",
    )
    password_cost: int = Field(
        default=15, ge=10, le=20, description="scrypt cost of new password hashes: N = 2**password_cost"
    )
    hash_workers: int = Field(default=2, ge=1, description="Password hashes computed at once (CPU bound)")
    session_key_file: Path | None = Field(
        default=None,
        description="Ed25519 private key (PEM) signing the proof of each sign-in that storage's mailbox API"
        " requires (empty: sign-ins get no session, and the mailbox API refuses everyone)",
    )
    session_lifetime: float = Field(
        default=28_800.0, gt=0, le=86_400, description="Seconds a signed session stays valid (a working day)"
    )
    auth_max_failures: int = Field(
        default=5, ge=1, description="Failed authentications per login or client address in the window"
    )
    auth_failure_window: float = Field(
        default=300.0, gt=0, description="Seconds a failed authentication counts against the limit"
    )
    introspection_url: str = Field(
        default="", description="Pro Sante Connect token introspection endpoint (https); empty: no XOAUTH2"
    )
    introspection_client_id: str = Field(default="", description="Our client id at the identity provider")
    introspection_audiences: list[str] = Field(
        default_factory=list,
        description="Applications a token may be issued to: one must be its `aud`, `azp` or `client_id`"
        " (empty: our client id only); a token issued to another application is refused",
    )
    introspection_scopes: list[str] = Field(
        default_factory=list, description='Scopes a token must grant (all of them), e.g. ["scope_all"]'
    )
    introspection_client_secret: SecretStr = Field(
        default=SecretStr(""), description="Our client secret at the identity provider"
    )
    introspection_ca_file: Path | None = Field(
        default=None, description="CA file pinned for the endpoint (default: the system's)"
    )
    introspection_issuer: str = Field(default="", description="Expected `iss` of tokens (empty: any)")
    introspection_timeout: float = Field(default=5.0, gt=0, description="Bound on one introspection, s")
    national_url: str = Field(
        default="https://service.annuaire.sante.fr/annuaire-sante-webservices/V300/services/extraction/"
        "Extraction_Correspondance_MSSante",
        description="The ANS daily extraction of MSSanté mailboxes (R-DIR-3), imported by default",
    )
    national_ca_file: Path | None = Field(
        default=None,
        description="CA file of the extraction's server: its IGC-Santé root (default: the system's)",
    )
    national_max_invalid_ratio: float = Field(
        default=0.1, ge=0, le=1, description="Invalid rows / rows above which an extraction is refused whole"
    )
    national_max_bytes: int = Field(default=1 << 30, gt=0, description="Largest extraction downloaded, bytes")
    fhir_base_url: str = Field(
        default="https://gateway.api.esante.gouv.fr/fhir/v2", description="Annuaire Santé FHIR API (R-DIR-1)"
    )
    fhir_api_key: SecretStr = Field(default=SecretStr(""), description="ESANTE-API-KEY of the FHIR API")
    fhir_timeout: float = Field(default=30.0, gt=0, description="Bound on one FHIR API request, seconds")
    fhir_page_size: int = Field(default=50, ge=1, le=1000, description="Resources per FHIR search page")
