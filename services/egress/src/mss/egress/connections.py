"""Open SMTP connections kept between transactions, per destination: the next delivery to the same
host (with the same TLS) reuses one instead of paying TCP, STARTTLS and EHLO again, as Postfix's
connection cache does. A connection idle longer than ``idle`` seconds is closed; at most
``per_destination`` wait per destination."""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass

import aiosmtplib
from mss.core.tls import PeerCertificate


@dataclass
class Idle:
    """A connection between transactions, with the TLS evidence of its session."""

    client: aiosmtplib.SMTP
    tls: PeerCertificate | None
    since: float


class Connections:
    """Idle connections by destination key."""

    def __init__(self, idle: float, per_destination: int) -> None:
        self.idle = idle
        self.per_destination = per_destination
        self._idle: dict[Hashable, list[Idle]] = {}

    def take(self, key: Hashable) -> Idle | None:
        """The most recently used open connection to ``key`` still fresh enough, if any."""
        waiting = self._idle.get(key, [])
        now = time.monotonic()
        while waiting:
            found = waiting.pop()
            if found.client.is_connected and now - found.since < self.idle:
                return found
            found.client.close()
        return None

    def give(self, key: Hashable, client: aiosmtplib.SMTP, tls: PeerCertificate | None) -> bool:
        """Keep ``client`` for the next transaction to ``key``; False when there is no room."""
        waiting = self._idle.setdefault(key, [])
        if not client.is_connected or len(waiting) >= self.per_destination or self.idle <= 0:
            return False
        waiting.append(Idle(client, tls, time.monotonic()))
        return True

    async def close_idle(self, everything: bool = False) -> None:
        """QUIT the connections idle for too long (all of them with ``everything``)."""
        now = time.monotonic()
        for key, waiting in list(self._idle.items()):
            keep = [] if everything else [i for i in waiting if now - i.since < self.idle]
            for stale in (i for i in waiting if i not in keep):
                try:
                    await stale.client.quit()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    stale.client.close()
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]
