"""Disposition notifications (RFC 8098 MDN): which message one is about, from whom, and what
happened to it ("displayed", "processed", "deleted", "failed"…)."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, message_from_string, policy
from email.message import Message


@dataclass(frozen=True)
class Disposition:
    """The machine-readable part of one MDN."""

    original_message_id: str
    final_recipient: str
    disposition: str
    """The disposition type and its modifiers, e.g. "displayed" or "processed/error"."""
    mode: str
    """The action and sending modes, e.g. "manual-action/MDN-sent-manually"."""


def _fields(part: Message) -> Message | None:
    payload = part.get_payload()
    if isinstance(payload, list):  # parsed as an embedded message: its headers are the fields
        return payload[0] if payload and isinstance(payload[0], Message) else None
    if isinstance(payload, str):
        return message_from_string(payload.lstrip("\r\n"), policy=policy.compat32)
    return None


def _address(value: str) -> str:
    """The address of "rfc822; someone@example" (the whole value when it has no type)."""
    return value.partition(";")[2].strip() if ";" in value else value.strip()


def read(content: bytes) -> Disposition | None:
    """The notification a raw message carries, or None when it carries none (or only garbage)."""
    for part in message_from_bytes(content, policy=policy.compat32).walk():
        if part.get_content_type() != "message/disposition-notification":
            continue
        fields = _fields(part)
        if fields is None:
            return None
        original = " ".join(str(fields.get("Original-Message-ID", "")).split())
        mode, _, disposition = str(fields.get("Disposition", "")).partition(";")
        if not original:
            return None
        return Disposition(
            original_message_id=original[:500],
            final_recipient=_address(str(fields.get("Final-Recipient", "")))[:320],
            disposition=" ".join(disposition.split())[:100],
            mode=" ".join(mode.split())[:100],
        )
    return None
