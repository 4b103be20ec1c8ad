"""A summary of the header section for events: Message-ID and the X-MSS-* headers, unchanged."""

from __future__ import annotations

from email.parser import BytesHeaderParser
from email.policy import compat32

MAX_HEADER_BYTES = 256 * 1024


def header_section(content: bytes) -> bytes:
    """The bytes of the header section (up to the first empty line, bounded)."""
    end = content.find(b"\r\n\r\n", 0, MAX_HEADER_BYTES)
    if end < 0:
        end = content.find(b"\n\n", 0, MAX_HEADER_BYTES)
    return content[: end if end >= 0 else MAX_HEADER_BYTES]


def summarise(content: bytes) -> tuple[str, dict[str, str]]:
    """(Message-ID value, {X-MSS-* name: value}) of a message; raw values, unfolded."""
    parsed = BytesHeaderParser(policy=compat32).parsebytes(header_section(content) + b"\r\n\r\n")
    message_id = " ".join(str(parsed.get("Message-ID", "")).split())
    mss = {
        name: " ".join(str(value).split())
        for name, value in parsed.items()
        if name.lower().startswith("x-mss-")
    }
    return message_id, mss
