"""Settings of the egress service (``MSS_EGRESS_*``)."""

from __future__ import annotations

import socket
from pathlib import Path

from mss.core.settings import ServiceSettings
from mss.core.tls import MSSANTE_CIPHERS, DnMatch, TlsFiles
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class EgressSettings(ServiceSettings):
    """Egress: next hops, timeouts and the retry schedule."""

    model_config = SettingsConfigDict(env_prefix="MSS_EGRESS_", extra="ignore")

    hostname: str = Field(default_factory=socket.getfqdn, description="Name in EHLO and Received")
    peer_routes: dict[str, str] = Field(
        default_factory=dict,
        description='Static routes of peer operator domains, JSON {"domain": "host:port"} (others: MX)',
    )
    dns_nameservers: list[str] = Field(
        default_factory=list,
        description='Resolvers for MX lookups, JSON ["host" or "host:port"] (empty: the system\'s)',
    )
    dns_timeout: float = Field(default=10.0, gt=0, description="Bound on one MX lookup, seconds")
    mx_port: int = Field(default=25, description="SMTP port of MX hosts")
    workers: int = Field(default=16, description="Deliveries in flight")
    connection_idle: float = Field(
        default=10.0,
        ge=0,
        description="Seconds an open connection waits for the next delivery (0: never kept)",
    )
    connections_per_destination: int = Field(
        default=8, ge=0, description="Open idle connections kept per host"
    )
    destination_concurrency: int = Field(
        default=5, ge=1, description="Simultaneous transactions a destination starts with (slow start)"
    )
    destination_concurrency_max: int = Field(
        default=20, ge=1, description="Most simultaneous transactions to one destination"
    )
    destination_busy_delay: float = Field(
        default=1.0,
        gt=0,
        description="Seconds before a delivery to a destination at its window is tried again",
    )
    connect_timeout: float = Field(default=30.0, description="SMTP connect timeout, seconds")
    command_timeout: float = Field(default=300.0, description="SMTP command timeout, seconds")
    retry_delays: list[float] = Field(
        default=[60, 300, 900, 1800, 3600, 7200, 14400],
        description="Delay before each retry, seconds; the last one repeats",
    )
    max_lifetime: float = Field(default=5 * 86400, description="Give up after this long, seconds")
    tls_cert_file: Path | None = Field(default=None, description="Our client certificate chain (PEM)")
    tls_key_file: Path | None = Field(default=None, description="Our client private key (PEM)")
    tls_ca_file: Path | None = Field(default=None, description="IGC-Santé chain other operators chain to")
    tls_crl_file: Path | None = Field(default=None, description="CRL (PEM) checked for server certificates")
    tls_ciphers: str = Field(default=MSSANTE_CIPHERS, description="TLS 1.2 cipher suites (OpenSSL names)")
    tls_allow_tls13: bool = Field(default=False, description="Also offer TLS 1.3")
    tls_reload_interval: float = Field(
        default=3600.0, description="Seconds between re-reads of the TLS files (new CRL, renewed certificate)"
    )
    smarthost_ca_file: Path | None = Field(
        default=None,
        description="CA bundle checking establishments' servers in 'verify' mode (unset: the system's CAs)",
    )
    dn_match: DnMatch = Field(
        default=DnMatch.DN, description="Match a server certificate on its full DN or CN"
    )
    policy_timeout: float = Field(default=2.0, description="Bound on asking policy about an operator, s")
    publish_timeout: float = Field(default=5.0, description="Bound on a durable publish, seconds")

    def tls_files(self) -> TlsFiles | None:
        """Our TLS identity toward other operators; None when not configured."""
        if self.tls_cert_file is None:
            return None
        return TlsFiles(
            cert=self.tls_cert_file,
            key=self.tls_key_file,
            ca=self.tls_ca_file,
            crl=self.tls_crl_file,
            ciphers=self.tls_ciphers,
            allow_tls13=self.tls_allow_tls13,
        )
