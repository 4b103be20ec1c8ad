"""Next hops for delivery tests: an SMTP server whose answers per recipient are scripted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiosmtpd.smtp import SMTP, Envelope, Session
from mss.devstack.ports import free_port


@dataclass
class Script:
    """How the sink answers: ``defer`` RCPTs get 451 this many times each before being accepted,
    ``refuse`` ones always get 550; with a ``gate``, DATA is answered only once it is set (a slow
    destination the test releases when it chooses)."""

    defer: dict[str, int] = field(default_factory=dict)
    refuse: set[str] = field(default_factory=set)
    gate: asyncio.Event | None = None
    offer_dsn: bool = False
    """Advertise DSN (RFC 3461); serve it with a protocol class that reads the parameters."""
    dsn_seen: list[object] = field(default_factory=list)
    """The DSN parameters each accepted RCPT came with (``session.dsn_rcpt``), in order."""
    in_data: int = 0
    most_in_data: int = 0
    """Transactions waiting at DATA at once, at most (the sender's concurrency toward us)."""
    received: list[tuple[list[str], bytes]] = field(default_factory=list)
    """(recipients, content) of each accepted message."""
    attempts: int = 0
    """Transactions begun (MAIL FROM)."""
    ehlos: int = 0
    """EHLO commands: one per connection from a client that reuses its connections."""
    closing: set[int] = field(default_factory=set)
    """MAIL FROM numbers (from 1) answered "421" as a server closing an idle connection would."""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class _Handler:
    def __init__(self, script: Script) -> None:
        self.script = script

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self.script.ehlos += 1
        return [*responses[:-1], "250-DSN", responses[-1]] if self.script.offer_dsn else responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.script.attempts += 1
        if self.script.attempts in self.script.closing:
            return "421 4.4.2 sink closing idle connection"
        envelope.mail_from = address
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        script = self.script
        if address in script.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if script.defer.get(address, 0) > 0:
            script.defer[address] -= 1
            return f"451 4.3.0 <{address}>: Temporary lookup failure"
        envelope.rcpt_tos.append(address)
        script.dsn_seen.append(getattr(session, "dsn_rcpt", None))
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        script = self.script
        if script.gate is not None:
            script.in_data += 1
            script.most_in_data = max(script.most_in_data, script.in_data)
            try:
                await script.gate.wait()
            finally:
                script.in_data -= 1
        self.script.received.append((list(envelope.rcpt_tos), envelope.original_content or b""))
        self.script.arrived.set()
        return "250 2.0.0 Ok: kept"


@asynccontextmanager
async def scripted_sink(script: Script, protocol: type[SMTP] = SMTP) -> AsyncIterator[str]:
    """Serve ``script`` on a free loopback port with ``protocol``; yields "127.0.0.1:port"."""
    port = free_port()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: protocol(_Handler(script), decode_data=False, hostname="sink"), "127.0.0.1", port
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()
