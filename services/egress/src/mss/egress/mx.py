"""Where another operator's domain takes mail: its MX hosts by preference (RFC 5321 §5.1), with a
configurable resolver. No MX: the domain's own address. A null MX (RFC 7505) or a domain that does
not exist: the recipients bounce. A resolver that fails or times out: they are deferred."""

from __future__ import annotations

from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.resolver


@dataclass(frozen=True)
class Hops:
    """The hosts to try in order, each as (name, address), or why there are none (``reply``: the
    recipients' reply). Addresses come from the same resolver as the MX records."""

    hosts: list[tuple[str, str]]
    reply: str = ""


class MxResolver:
    """MX lookups through ``nameservers`` ("host" or "host:port"; none: the system's resolver)."""

    def __init__(self, nameservers: list[str], timeout: float) -> None:
        self.resolver = dns.asyncresolver.Resolver(configure=not nameservers)
        if nameservers:  # the port first: each nameserver takes the port in force when it is set
            ports = {int(server.rpartition(":")[2]) for server in nameservers if ":" in server}
            if ports:
                self.resolver.port = ports.pop()
            self.resolver.nameservers = [server.rpartition(":")[0] or server for server in nameservers]
        self.resolver.lifetime = timeout

    async def hops(self, domain: str) -> Hops:
        """The MX hosts of ``domain``, best first."""
        try:
            answer = await self.resolver.resolve(domain, "MX")
        except dns.resolver.NXDOMAIN:
            return Hops([], f"550 5.4.4 Domain {domain} does not exist (DNS)")
        except dns.resolver.NoAnswer:
            return await self._implicit(domain)
        except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.exception.DNSException) as exc:
            return Hops([], f"451 4.4.3 DNS lookup of {domain} failed: {type(exc).__name__}")
        records = sorted(answer, key=lambda r: (r.preference, r.exchange.to_text()))
        if len(records) == 1 and records[0].exchange.to_text() == ".":
            return Hops([], f"556 5.1.10 Domain {domain} accepts no mail (null MX)")
        hosts: list[tuple[str, str]] = []
        for record in records:
            name = record.exchange.to_text().rstrip(".")
            hosts += [(name, address) for address in await self.addresses(name)]
        if not hosts:
            return Hops([], f"451 4.4.3 No address for the MX hosts of {domain}")
        return Hops(hosts)

    async def addresses(self, name: str) -> list[str]:
        """The IPv4 addresses of ``name`` (none when it has none or the lookup fails)."""
        try:
            return sorted(record.to_text() for record in await self.resolver.resolve(name, "A"))
        except dns.exception.DNSException:
            return []

    async def _implicit(self, domain: str) -> Hops:
        """No MX: the domain itself, when it has an address."""
        try:
            answer = await self.resolver.resolve(domain, "A")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return Hops([], f"550 5.4.4 Domain {domain} has no MX and no address (DNS)")
        except dns.exception.DNSException as exc:
            return Hops([], f"451 4.4.3 DNS lookup of {domain} failed: {type(exc).__name__}")
        return Hops([(domain, record.to_text()) for record in answer])
