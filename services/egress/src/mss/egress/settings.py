"""Settings of the egress service (``MSS_EGRESS_*``)."""

from __future__ import annotations

import socket

from mss.core.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class EgressSettings(ServiceSettings):
    """Egress: next hops, timeouts and the retry schedule."""

    model_config = SettingsConfigDict(env_prefix="MSS_EGRESS_", extra="ignore")

    hostname: str = Field(default_factory=socket.getfqdn, description="Name in EHLO and Received")
    peer_routes: dict[str, str] = Field(
        default_factory=dict,
        description='Static routes of peer operator domains, JSON {"domain": "host:port"}',
    )
    workers: int = Field(default=16, description="Deliveries in flight")
    connect_timeout: float = Field(default=30.0, description="SMTP connect timeout, seconds")
    command_timeout: float = Field(default=300.0, description="SMTP command timeout, seconds")
    retry_delays: list[float] = Field(
        default=[60, 300, 900, 1800, 3600, 7200, 14400],
        description="Delay before each retry, seconds; the last one repeats",
    )
    max_lifetime: float = Field(default=5 * 86400, description="Give up after this long, seconds")
