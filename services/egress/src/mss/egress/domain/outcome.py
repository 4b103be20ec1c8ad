"""Per-recipient outcomes of one delivery attempt, and when to try again."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Outcome(Enum):
    """What one attempt did for one recipient."""

    DELIVERED = "delivered"
    DEFERRED = "deferred"
    BOUNCED = "bounced"


@dataclass(frozen=True)
class RecipientResult:
    """The outcome of one recipient with the reply that decided it."""

    address: str
    outcome: Outcome
    reply: str


def classify(code: int) -> Outcome:
    """Map an SMTP reply code to an outcome (2xx delivered, 5xx bounced, anything else deferred)."""
    if 200 <= code < 300:
        return Outcome.DELIVERED
    if 500 <= code < 600:
        return Outcome.BOUNCED
    return Outcome.DEFERRED


def retry_delay(attempts: int, delays: list[float]) -> float:
    """Delay before the next attempt after ``attempts`` failed ones (the last delay repeats)."""
    if not delays:
        return 0.0
    return delays[min(max(attempts, 1), len(delays)) - 1]


def parse_hop(hop: str) -> tuple[str, int]:
    """Split "host:port" (port defaults to 25); raise ValueError when malformed."""
    host, sep, port = hop.rpartition(":")
    if not sep:
        return hop, 25
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"malformed next hop {hop!r}")
    return host.strip("[]"), int(port)
