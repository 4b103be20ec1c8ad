"""Identifiers: queue ids, event ids and W3C trace ids."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_queue_id() -> str:
    """Return a 26-character ULID: sortable by time, 80 random bits, safe in SMTP replies."""
    millis = time.time_ns() // 1_000_000
    return _base32(millis, 10) + _base32(int.from_bytes(os.urandom(10), "big"), 16)


def new_trace_id() -> str:
    """Return a random W3C trace id (32 lowercase hex digits, never all zero)."""
    while True:
        value = os.urandom(16).hex()
        if value != "0" * 32:
            return value


def new_span_id() -> str:
    """Return a random W3C span id (16 lowercase hex digits, never all zero)."""
    while True:
        value = os.urandom(8).hex()
        if value != "0" * 16:
            return value


def traceparent(trace_id: str, span_id: str | None = None) -> str:
    """Format a W3C ``traceparent`` header value (version 00, sampled)."""
    return f"00-{trace_id}-{span_id or new_span_id()}-01"


def trace_id_of(header: str | None) -> str | None:
    """Extract the trace id of a ``traceparent`` value, or None when it is malformed."""
    if not header:
        return None
    parts = header.strip().split("-")
    if len(parts) != 4 or len(parts[1]) != 32:
        return None
    try:
        int(parts[1], 16)
    except ValueError:
        return None
    return parts[1].lower() if parts[1] != "0" * 32 else None
