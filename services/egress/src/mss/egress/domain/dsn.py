"""Delivery status notifications (RFC 3464): the report a sender gets about recipients that failed.

``multipart/report; report-type=delivery-status`` with three parts: a text for people, the
``message/delivery-status`` fields for programs (one block per recipient), and the original
message's headers (``text/rfc822-headers``), never its body: health data is not sent back in a
bounce.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, make_msgid

_STATUS = re.compile(r"^\d{3} ([245]\.\d{1,3}\.\d{1,3})\b")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True)
class Failure:
    """One recipient that will not get the message."""

    recipient: str
    reply: str
    """The SMTP reply that decided, or our own reason in the same form ("550 5.4.7 …")."""
    remote: str = ""
    """The host that answered, when one did."""


def status_of(reply: str) -> str:
    """The enhanced status code of a reply (5.0.0 when it has none). A recipient that failed after
    temporary errors until its lifetime ran out keeps the last one's 4.x.x, as Postfix reports it."""
    found = _STATUS.match(reply)
    return found.group(1) if found is not None else "5.0.0"


def original_headers(content: bytes) -> bytes:
    """The header section of a raw message (all of it when it has no body)."""
    end = _HEADER_END.search(content)
    headers = content[: end.start()] if end is not None else content
    return headers.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _clean(text: str) -> str:
    """One header-safe line."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:900]


def build(
    *,
    reporting_mta: str,
    sender: str,
    queue_id: str,
    arrival: datetime,
    now: datetime,
    failures: list[Failure],
    content: bytes,
    boundary: str,
) -> bytes:
    """The notification to ``sender`` about ``failures`` of message ``queue_id`` (CRLF line ends)."""
    listed = "\r\n".join(f"  <{f.recipient}>: {_clean(f.reply)}" for f in failures)
    human = (
        f"This is the mail system at {reporting_mta}.\r\n\r\n"
        "Your message could not be delivered to the following recipient(s); it will not be retried:\r\n\r\n"
        f"{listed}\r\n\r\n"
        "The headers of your message follow; its content is not returned.\r\n"
    )
    per_message = (
        f"Reporting-MTA: dns; {reporting_mta}\r\nX-Mss-Queue-ID: {queue_id}\r\n"
        f"Arrival-Date: {format_datetime(arrival)}\r\n"
    )
    blocks = []
    for failure in failures:
        block = (
            f"Final-Recipient: rfc822; {failure.recipient}\r\nAction: failed\r\n"
            f"Status: {status_of(failure.reply)}\r\n"
        )
        if failure.remote:
            block += f"Remote-MTA: dns; {_clean(failure.remote)}\r\n"
        block += (
            f"Diagnostic-Code: smtp; {_clean(failure.reply)}\r\nLast-Attempt-Date: {format_datetime(now)}\r\n"
        )
        blocks.append(block)
    head = (
        f"From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>\r\n"
        f"To: <{sender}>\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {format_datetime(now)}\r\n"
        f"Message-ID: {make_msgid(domain=reporting_mta)}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
    )
    parts = [
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{human}".encode(),
        (
            "Content-Type: message/delivery-status\r\n\r\n" + per_message + "\r\n" + "\r\n".join(blocks)
        ).encode(),
        b"Content-Type: text/rfc822-headers\r\n\r\n" + original_headers(content) + b"\r\n",
    ]
    body = b"".join(f"--{boundary}\r\n".encode() + part + b"\r\n" for part in parts)
    return head.encode() + b"\r\n" + body + f"--{boundary}--\r\n".encode()
