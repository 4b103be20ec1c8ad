"""Settings of the ``mss`` command (``MSS_CLI_*``)."""

from __future__ import annotations

from pathlib import Path

from mss.core.errors import ConfigError
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CliSettings(BaseSettings):
    """Where the backbone's NATS and admin API are, and the bounds the command works within."""

    model_config = SettingsConfigDict(env_prefix="MSS_CLI_", extra="ignore")

    nats_url: str = Field(default="tls://127.0.0.1:4222", description="NATS server URL(s), comma-separated")
    nats_credentials_file: Path = Field(
        default=Path(".mss/nats/credentials/ops.nk"),
        description="The operator identity's NATS nkey seed (what `task up` generates)",
    )
    nats_ca_file: Path | None = Field(
        default=Path(".mss/nats/tls/ca.pem"),
        description="CA certificate of the NATS server (empty: the system's trusted roots)",
    )
    timeout: float = Field(default=5.0, description="Bound on connecting and on each NATS request, seconds")
    trust_list_max_bytes: int = Field(default=20_000_000, description="Largest list accepted, bytes")
    admin_url: str = Field(default="http://127.0.0.1:8081", description="The directory's admin API")
    admin_token: SecretStr = Field(default=SecretStr(""), description="Bearer token of the admin API")
    admin_token_file: Path = Field(
        default=Path(".mss/admin-token"), description="File holding the token when admin_token is empty"
    )

    def bearer(self) -> str:
        """The admin API token: from the setting, else from the token file."""
        if self.admin_token.get_secret_value():
            return self.admin_token.get_secret_value()
        try:
            return self.admin_token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"no admin token: set MSS_CLI_ADMIN_TOKEN or MSS_CLI_ADMIN_TOKEN_FILE ({exc.strerror})"
            ) from exc
