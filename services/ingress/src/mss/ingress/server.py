"""The SMTP listeners of ingress, served in the service's own event loop.

Both listeners offer STARTTLS and accept no transaction before it. The peer listener requires a
client certificate chaining to the IGC-Santé CA (verified, and checked against the CRL); the
submission listener accepts one (applicative mailboxes) but does not require it, and offers SMTP
AUTH once TLS is on.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from mss.core.tls import NO_CRL, server_context
from mss.ingress.dsn import DsnSMTP
from mss.ingress.handler import IngressHandler
from mss.ingress.settings import IngressSettings
from mss.ingress.submission import MECHANISMS
from mss.v1 import Listener

log = logging.getLogger(__name__)


class Listeners:
    """Peer-operator and submission listeners."""

    def __init__(self, handlers: dict[Listener.ValueType, IngressHandler], settings: IngressSettings) -> None:
        self.handlers = handlers
        self.settings = settings
        self.servers: list[asyncio.Server] = []
        self.contexts: dict[Listener.ValueType, ssl.SSLContext] = {}
        self.load_tls()
        if settings.tls_crl_file is None:
            log.warning(NO_CRL.format(whose="peer operators' client", setting="MSS_INGRESS_TLS_CRL_FILE"))

    def load_tls(self) -> None:
        """(Re)build the TLS contexts from the files; new connections use the new ones."""
        files = self.settings.tls_files()
        self.contexts = {
            Listener.LISTENER_PEER: server_context(files, require_client_cert=True),
            Listener.LISTENER_SUBMISSION: server_context(files, require_client_cert=False),
        }

    def protocol(self, listener: Listener.ValueType) -> DsnSMTP:
        """One SMTP protocol instance per connection; SMTP AUTH only at submission, inside TLS."""
        offered = self.settings.auth_mechanisms if listener == Listener.LISTENER_SUBMISSION else []
        return DsnSMTP(
            self.handlers[listener],
            hostname=self.settings.hostname,
            ident="mss",
            data_size_limit=self.settings.max_message_size,
            decode_data=False,
            enable_SMTPUTF8=True,
            tls_context=self.contexts[listener],
            require_starttls=False,  # enforced at MAIL FROM with an enhanced status code
            auth_require_tls=True,
            auth_exclude_mechanism=[m for m in MECHANISMS if m not in offered],
        )

    async def start(self) -> None:
        """Listen on both ports."""
        loop = asyncio.get_running_loop()
        ports = (
            (Listener.LISTENER_PEER, self.settings.peer_port),
            (Listener.LISTENER_SUBMISSION, self.settings.submission_port),
        )
        for listener, port in ports:
            server = await loop.create_server(
                lambda listener=listener: self.protocol(listener),
                self.settings.smtp_host,
                port,
                reuse_port=self.settings.reuse_port or None,
            )
            self.servers.append(server)
            log.info(
                "smtp listening",
                extra={"listener": Listener.Name(listener), "address": f"{self.settings.smtp_host}:{port}"},
            )

    async def reload_tls(self) -> None:
        """Re-read the TLS files (a new CRL, a renewed certificate); keep the old ones on error."""
        try:
            self.load_tls()
        except Exception:
            log.exception("TLS files not reloaded; the previous ones stay in use")

    async def stop(self) -> None:
        """Stop accepting connections, then wait for open sessions to end (bounded)."""
        for server in self.servers:
            server.close()
        for server in self.servers:
            try:
                await asyncio.wait_for(server.wait_closed(), timeout=30)
            except TimeoutError:
                log.warning("sessions still open at shutdown")
