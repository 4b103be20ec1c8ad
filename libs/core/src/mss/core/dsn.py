"""Delivery status notifications (RFC 3464): what a sender gets back about its recipients.

``multipart/report; report-type=delivery-status`` with three parts: a text for people, the
``message/delivery-status`` fields for programs (one block per recipient: ``failed``,
``delivered`` or ``relayed``), and the original message: its headers (``text/rfc822-headers``),
or the whole of it (``message/rfc822``) only when the sender asked with ``RET=FULL`` (RFC 3461).
By default health data is never sent back in a report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, make_msgid

_STATUS = re.compile(r"^\d{3} ([245]\.\d{1,3}\.\d{1,3})\b")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_TEXT = {
    "failed": "could not be delivered to the following recipient(s); it will not be retried",
    "delivered": "was delivered to the following recipient(s), as you asked",
    "relayed": "was relayed to the following recipient(s), whose server sends no further report",
}


@dataclass(frozen=True)
class Outcome:
    """What happened to one recipient."""

    recipient: str
    reply: str
    """The SMTP reply that decided, or our own in the same form ("550 5.3.0 …", "250 2.0.0 …")."""
    remote: str = ""
    """The host that answered, when one did."""
    action: str = "failed"
    """RFC 3464 action: failed, delivered or relayed."""
    orcpt: str = ""
    """The recipient as the sender first addressed it (RFC 3461 ORCPT), "rfc822;address"."""


def decode_xtext(value: str) -> str:
    """RFC 3461 §4 xtext back to text: ``+XX`` is the byte of hex XX (the bytes are UTF-8, as
    :func:`encode_xtext` writes them); other characters must be printable ASCII but ``+`` and ``=``.
    Raises ValueError when ``value`` is not xtext."""
    if any(not 33 <= ord(c) <= 126 or c == "=" for c in value):
        raise ValueError("not xtext: a character outside printable ASCII, or '='")
    raw, rest = bytearray(), value
    while rest:
        head, plus, rest = rest.partition("+")
        raw += head.encode()
        if plus:
            if len(rest) < 2 or not all(c in "0123456789ABCDEF" for c in rest[:2]):
                raise ValueError("not xtext: '+' must be followed by two upper-case hex digits")
            raw.append(int(rest[:2], 16))
            rest = rest[2:]
    return raw.decode("utf-8")


def encode_xtext(value: str) -> str:
    """RFC 3461 §4 xtext: ``+``, ``=`` and characters outside printable ASCII as ``+XX`` (UTF-8)."""
    return "".join(
        c if 33 <= ord(c) <= 126 and c not in "+=" else "".join(f"+{b:02X}" for b in c.encode())
        for c in value
    )


def envelope_options(ret: str, envid: str) -> list[str]:
    """The MAIL FROM parameters that pass the sender's DSN request on to the next hop."""
    return ([f"RET={ret}"] if ret else []) + ([f"ENVID={encode_xtext(envid)}"] if envid else [])


def recipient_options(notify: str, orcpt: str) -> list[str]:
    """The RCPT TO parameters that pass a recipient's DSN request on to the next hop."""
    options = [f"NOTIFY={notify}"] if notify else []
    kind, _, address = orcpt.partition(";")
    return options + ([f"ORCPT={kind};{encode_xtext(address)}"] if orcpt else [])


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


def wanted(notify: str, action: str) -> bool:
    """Whether a recipient's NOTIFY (RFC 3461) asks for a report of this action; without NOTIFY,
    failures only."""
    asked = set(notify.upper().split(",")) if notify else {"FAILURE"}
    return ("FAILURE" if action == "failed" else "SUCCESS") in asked


def _clean(text: str) -> str:
    """One header-safe line."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:900]


def _block(outcome: Outcome, now: datetime) -> str:
    block = ""
    if outcome.orcpt:
        block += f"Original-Recipient: {_clean(outcome.orcpt)}\r\n"
    block += (
        f"Final-Recipient: rfc822; {outcome.recipient}\r\nAction: {outcome.action}\r\n"
        f"Status: {status_of(outcome.reply)}\r\n"
    )
    if outcome.remote:
        block += f"Remote-MTA: dns; {_clean(outcome.remote)}\r\n"
    block += (
        f"Diagnostic-Code: smtp; {_clean(outcome.reply)}\r\nLast-Attempt-Date: {format_datetime(now)}\r\n"
    )
    return block


def build(
    *,
    reporting_mta: str,
    sender: str,
    queue_id: str,
    arrival: datetime,
    now: datetime,
    outcomes: list[Outcome],
    content: bytes,
    boundary: str,
    envid: str = "",
    full: bool = False,
) -> bytes:
    """The report to ``sender`` about ``outcomes`` of message ``queue_id`` (CRLF line ends); all
    outcomes share one action. ``full``: return the whole message (RET=FULL), not its headers."""
    action = outcomes[0].action
    listed = "\r\n".join(f"  <{o.recipient}>: {_clean(o.reply)}" for o in outcomes)
    returned = (
        "your message follows" if full else "the headers of your message follow; its content is not returned"
    )
    human = (
        f"This is the mail system at {reporting_mta}.\r\n\r\n"
        f"Your message {_TEXT[action]}:\r\n\r\n{listed}\r\n\r\n"
        f"{returned[0].upper()}{returned[1:]}.\r\n"
    )
    per_message = ""
    if envid:
        per_message += f"Original-Envelope-Id: {_clean(envid)}\r\n"
    per_message += (
        f"Reporting-MTA: dns; {reporting_mta}\r\nX-Mss-Queue-ID: {queue_id}\r\n"
        f"Arrival-Date: {format_datetime(arrival)}\r\n"
    )
    subject = (
        "Undelivered Mail Returned to Sender" if action == "failed" else "Successful Mail Delivery Report"
    )
    head = (
        f"From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>\r\n"
        f"To: <{sender}>\r\n"
        f"Subject: {subject}\r\n"
        f"Date: {format_datetime(now)}\r\n"
        f"Message-ID: {make_msgid(domain=reporting_mta)}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
    )
    blocks = "\r\n".join(_block(outcome, now) for outcome in outcomes)
    original = (
        b"Content-Type: message/rfc822\r\n\r\n" + content
        if full
        else b"Content-Type: text/rfc822-headers\r\n\r\n" + original_headers(content) + b"\r\n"
    )
    parts = [
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{human}".encode(),
        ("Content-Type: message/delivery-status\r\n\r\n" + per_message + "\r\n" + blocks).encode(),
        original,
    ]
    body = b"".join(f"--{boundary}\r\n".encode() + part + b"\r\n" for part in parts)
    return head.encode() + b"\r\n" + body + f"--{boundary}--\r\n".encode()
