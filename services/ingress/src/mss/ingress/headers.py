"""A summary of the header section for events: Message-ID, the X-MSS-* headers unchanged, and
whether the message is a disposition notification (RFC 8098 MDN)."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32

MAX_HEADER_BYTES = 256 * 1024


def header_section(content: bytes) -> bytes:
    """The bytes of the header section (up to the first empty line, bounded)."""
    end = content.find(b"\r\n\r\n", 0, MAX_HEADER_BYTES)
    if end < 0:
        end = content.find(b"\n\n", 0, MAX_HEADER_BYTES)
    return content[: end if end >= 0 else MAX_HEADER_BYTES]


@dataclass(frozen=True)
class Summary:
    """What events say of a message's headers (raw values, unfolded)."""

    message_id: str = ""
    mss: dict[str, str] = field(default_factory=dict)
    disposition_notification: bool = False


def summarise(content: bytes) -> Summary:
    """The summary of a message's header section."""
    parsed = BytesHeaderParser(policy=compat32).parsebytes(header_section(content) + b"\r\n\r\n")
    mss = {
        name: " ".join(str(value).split())
        for name, value in parsed.items()
        if name.lower().startswith("x-mss-")
    }
    report_type = str(parsed.get_param("report-type", "", header="content-type") or "").lower()
    return Summary(
        message_id=" ".join(str(parsed.get("Message-ID", "")).split()),
        mss=mss,
        disposition_notification=parsed.get_content_type() == "multipart/report"
        and report_type == "disposition-notification",
    )
