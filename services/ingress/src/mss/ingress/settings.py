"""Settings of the ingress service (``MSS_INGRESS_*``)."""

from __future__ import annotations

import socket

from mss.core.settings import ServiceSettings
from pydantic import Field
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
    publish_timeout: float = Field(default=5.0, description="Bound on a durable publish, seconds")
    reuse_port: bool = Field(default=False, description="SO_REUSEPORT: several processes share a port")
