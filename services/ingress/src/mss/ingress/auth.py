"""What a submission session knows after SMTP AUTH."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Authenticated:
    """Who a submission session authenticated as, and which mailboxes it may send as."""

    identity: str
    senders: tuple[str, ...]
