"""Settings of the ingress service (``MSS_INGRESS_*``)."""

from __future__ import annotations

import socket
from pathlib import Path

from mss.core.settings import ServiceSettings
from mss.core.tls import MSSANTE_CIPHERS, TlsFiles
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict


class IngressSettings(ServiceSettings):
    """Ingress: listeners, limits and bounds on the bus."""

    model_config = SettingsConfigDict(env_prefix="MSS_INGRESS_", extra="ignore")

    http_port: int = 9101
    smtp_host: str = Field(default="127.0.0.1", description="Address of the SMTP listeners")
    peer_port: int = Field(default=2525, description="SMTP port for peer operators")
    submission_port: int = Field(default=5587, description="SMTP port for establishment users")
    hostname: str = Field(default_factory=socket.getfqdn, description="Name in the banner and EHLO")
    max_message_size: int = Field(default=25 * 1024 * 1024, description="SIZE limit, bytes")
    max_recipients: int = Field(default=100, description="Recipients per message")
    policy_timeout: float = Field(default=2.0, description="Bound on a policy verdict, seconds")
    auth_timeout: float = Field(default=10.0, description="Bound on an authentication by the directory, s")
    auth_session_failures: int = Field(
        default=3, ge=1, description="Failed authentications after which a session is closed"
    )
    unproven_refusals: int = Field(
        default=10,
        ge=1,
        description="Refused MAIL FROM of clients that proved nothing (no sign-in, no certificate) an"
        " address may collect within unproven_window, then 421 and disconnect (per listener and replica)",
    )
    unproven_window: float = Field(
        default=300.0, gt=0, description="Seconds a refusal of an unproven client counts against its address"
    )
    auth_mechanisms: list[str] = Field(
        default=["PLAIN", "LOGIN", "XOAUTH2"],
        description="SASL mechanisms offered at submission, after STARTTLS (subset of PLAIN LOGIN XOAUTH2)",
    )
    scan_clamd: str = Field(default="", description="clamd host:port scanning every message (empty: no scan)")
    scan_timeout: float = Field(default=30.0, gt=0, description="Bound on one scan, seconds")
    scan_fail_open: bool = Field(
        default=False, description="Accept messages unscanned while clamd is down (default: 451, retry later)"
    )
    content_timeout: float = Field(
        default=15.0,
        gt=0,
        description="Bound on policy's check of an IHE XDM archive at end of DATA, seconds",
    )
    publish_timeout: float = Field(default=5.0, description="Bound on a durable publish, seconds")
    reuse_port: bool = Field(default=False, description="SO_REUSEPORT: several processes share a port")
    tls_cert_file: Path | None = Field(default=None, description="Server certificate chain (PEM), required")
    tls_key_file: Path | None = Field(default=None, description="Server private key (PEM), required")
    tls_ca_file: Path | None = Field(
        default=None, description="IGC-Santé chain (PEM) that client certificates must chain to, required"
    )
    tls_crl_file: Path | None = Field(default=None, description="CRL (PEM) checked for client certificates")
    tls_ciphers: str = Field(default=MSSANTE_CIPHERS, description="TLS 1.2 cipher suites (OpenSSL names)")
    tls_allow_tls13: bool = Field(default=False, description="Also accept TLS 1.3")
    tls_reload_interval: float = Field(
        default=3600.0, description="Seconds between re-reads of the TLS files (new CRL, renewed certificate)"
    )

    @field_validator("auth_mechanisms")
    @classmethod
    def _known_mechanisms(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - {"PLAIN", "LOGIN", "XOAUTH2"})
        if unknown:
            raise ValueError(f"unknown SASL mechanism(s) {unknown}: choose among PLAIN LOGIN XOAUTH2")
        return value

    def tls_files(self) -> TlsFiles:
        """The TLS configuration of both listeners."""
        return TlsFiles(
            cert=self.tls_cert_file,
            key=self.tls_key_file,
            ca=self.tls_ca_file,
            crl=self.tls_crl_file,
            ciphers=self.tls_ciphers,
            allow_tls13=self.tls_allow_tls13,
        )
