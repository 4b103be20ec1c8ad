"""A DNS server for tests: answers MX and A queries over UDP on loopback from a table, so that
next-hop resolution is exercised over the real protocol with dnspython's own resolver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import cast

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
from mss.devstack.ports import free_port


@dataclass
class Zone:
    """Answers by name: ``mx`` (preference, exchange) pairs, ``a`` addresses, ``missing`` names
    (NXDOMAIN), ``failing`` names (SERVFAIL). Anything else exists with no record of the type."""

    mx: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    a: dict[str, list[str]] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    failing: set[str] = field(default_factory=set)
    queries: list[tuple[str, str]] = field(default_factory=list)

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, kind))
        if name in self.failing:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif name in self.missing:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif kind == "MX" and name in self.mx:
            records = [f"{p} {x.rstrip('.')}." for p, x in self.mx[name]]  # "." stays the null MX
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", "MX", records))
        elif kind == "A" and name in self.a:
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", "A", self.a[name]))
        return response.to_wire()


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(self.zone.answer(data), addr)


@asynccontextmanager
async def dns_server(zone: Zone) -> AsyncIterator[int]:
    """Serve ``zone`` on 127.0.0.1, UDP; yields the port."""
    port = free_port()
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: _Protocol(zone), local_addr=("127.0.0.1", port)
    )
    try:
        yield port
    finally:
        transport.close()
