"""Which certificates the allowed-domain list names for a domain (asked by egress)."""

from __future__ import annotations

from collections.abc import Callable

from mss.bus.codec import decode, encode
from mss.policy.domain.trustlist import TrustList, canonical_domain
from mss.v1 import OperatorLookupReply, OperatorLookupRequest


class OperatorLookup:
    """Answers OperatorLookupRequest from the current list."""

    def __init__(self, trust: Callable[[], TrustList]) -> None:
        self.trust = trust

    def lookup(self, domain: str) -> OperatorLookupReply:
        """The list's entry for ``domain``."""
        trust = self.trust()
        dns = trust.domains.get(canonical_domain(domain))
        return OperatorLookupReply(
            listed=dns is not None, certificate_dns=list(dns or ()), trust_list_version=trust.version
        )

    async def on_request(self, body: bytes, headers: dict[str, str]) -> bytes:
        """NATS request handler."""
        return encode(self.lookup(decode(OperatorLookupRequest, body).domain))
