"""Disposition notifications (RFC 8098 MDN): which message one is about, from whom, and what
happened to it ("displayed", "processed", "deleted", "failed"…)."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, message_from_string, policy
from email.message import Message

from mss.core.tls import DnMatch
from mss.policy.domain.senders import certificate_matches
from mss.policy.domain.trustlist import TrustList, canonical_domain
from mss.v1 import MessageReceived


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


def from_recipients_side(
    received: MessageReceived, final_recipient: str, trust: TrustList, match: DnMatch
) -> str:
    """Why a notification about ``final_recipient`` cannot be that recipient's, or "" when it comes
    from the recipient's side: signed in at submission as someone who may send as that recipient, or
    delivered by an operator whose certificate the allowed-domain list names for the recipient's
    domain. Anyone can write a notification; only those can vouch for what the recipient did."""
    recipient = final_recipient.strip().lower()
    if not recipient:
        return "it names no final recipient"
    if received.submitted:
        if recipient in (sender.lower() for sender in received.auth_senders):
            return ""
        who = received.auth_identity or "a client that did not sign in"
        return f"submitted by {who}, who may not send as {recipient}"
    listed = trust.domains.get(canonical_domain(recipient.rpartition("@")[2]), ())
    certificate = received.peer_certificate if received.HasField("peer_certificate") else None
    if certificate is not None and any(certificate_matches(dn, certificate, match) for dn in listed):
        return ""
    shown = certificate.subject_dn if certificate is not None else "no certificate"
    return f"delivered by {shown}, not by the operator the list names for {recipient}"
