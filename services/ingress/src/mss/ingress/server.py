"""The SMTP listeners of ingress, served in the service's own event loop."""

from __future__ import annotations

import asyncio
import logging

from aiosmtpd.smtp import SMTP
from mss.ingress.handler import IngressHandler
from mss.ingress.settings import IngressSettings

log = logging.getLogger(__name__)


class Listeners:
    """Peer-operator and submission listeners sharing one handler."""

    def __init__(self, handler: IngressHandler, settings: IngressSettings) -> None:
        self.handler = handler
        self.settings = settings
        self.servers: list[asyncio.Server] = []

    def protocol(self) -> SMTP:
        """One SMTP protocol instance per connection."""
        return SMTP(
            self.handler,
            hostname=self.settings.hostname,
            ident="mss",
            data_size_limit=self.settings.max_message_size,
            decode_data=False,
            enable_SMTPUTF8=True,
        )

    async def start(self) -> None:
        """Listen on both ports."""
        loop = asyncio.get_running_loop()
        for name, port in (("peer", self.settings.peer_port), ("submission", self.settings.submission_port)):
            server = await loop.create_server(
                self.protocol, self.settings.smtp_host, port, reuse_port=self.settings.reuse_port or None
            )
            self.servers.append(server)
            log.info(
                "smtp listening", extra={"listener": name, "address": f"{self.settings.smtp_host}:{port}"}
            )

    async def stop(self) -> None:
        """Stop accepting connections, then wait for open sessions to end (bounded)."""
        for server in self.servers:
            server.close()
        for server in self.servers:
            try:
                await asyncio.wait_for(server.wait_closed(), timeout=30)
            except TimeoutError:
                log.warning("sessions still open at shutdown")
