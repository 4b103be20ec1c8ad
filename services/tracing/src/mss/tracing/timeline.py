"""A message's timeline as one viewer may see it: every hop in order, each recipient's latest
status and attempts, the TLS evidence, the verdicts with their rule and versions, and the
disposition notifications (MDN) that refer to it."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from mss.db.pool import Conn
from mss.tracing.accounts import Viewer
from mss.v1 import AuditCode, RecipientStatus

_TIMELINE = """
SELECT * FROM audit_events WHERE message_id = $1
UNION ALL
SELECT * FROM audit_events
WHERE original_message_id <> '' AND original_message_id IN (
    SELECT header_message_id FROM audit_events
    WHERE message_id = $1 AND code = 200 AND header_message_id <> '')
ORDER BY at, seq
"""
WITHHELD = "(content: not shown to support)"


def code_name(code: int) -> str:
    """``MESSAGE_ACCEPTED`` for 200."""
    return _name(AuditCode, code, "AUDIT_CODE_")


def status_name(status: int) -> str:
    """``DELIVERED`` for 2, "" for none."""
    return _name(RecipientStatus, status, "RECIPIENT_STATUS_") if status else ""


def _name(enum: Any, value: int, prefix: str) -> str:
    try:
        return str(enum.Name(value)).removeprefix(prefix)
    except ValueError:
        return str(value)


def withheld(row: asyncpg.Record) -> bool:
    """An event whose reason and reply tell the content: the content inspection, and refusals for
    content (a malware signature, an archive's entries)."""
    return bool(row["code"] == AuditCode.AUDIT_CODE_CONTENT_INSPECTED or row["rule"].startswith("content."))


def _event(row: asyncpg.Record, message_id: str, viewer: Viewer) -> dict[str, Any]:
    hidden = withheld(row) and not viewer.sees_content
    return {
        "at": row["at"].isoformat(),
        "service": row["service"],
        "event": code_name(row["code"]),
        "code": row["code"],
        "recipient": row["recipient"],
        "status": status_name(row["status"]),
        "reply": WITHHELD if hidden else row["reply"],
        "reason": WITHHELD if hidden else row["reason"],
        "next_hop": row["next_hop"],
        "attempt": row["attempt"],
        "tenant_id": row["tenant_id"],
        "mail_from": row["mail_from"],
        "trust_list_version": row["trust_list_version"],
        "directory_version": row["directory_version"],
        "trace_id": row["trace_id"],
        "patient_hash": row["patient_hash"] if viewer.sees_content else "",
        "rule": row["rule"],
        "policy_version": row["policy_version"],
        "tls": json.loads(row["tls"]) if row["tls"] else None,
        "about": row["original_message_id"],
        "notification": row["message_id"] if row["message_id"] != message_id else "",
        "hash": row["hash"],
    }


def _shown(
    row: asyncpg.Record,
    message_id: str,
    sender_side: bool,
    viewer: Viewer,
    addressed: set[str],
    own: set[str],
) -> bool:
    """Whether the viewer sees this event of the timeline.

    A disposition notification is linked by the Message-ID, which the sender chooses: it belongs to
    the timeline only when it comes from one of the message's recipients. The sender's establishment
    sees every event; another sees its own and, of the events without an establishment, those about
    the whole message or about one of its own recipients."""
    recipient = row["recipient"].lower()
    if row["message_id"] != message_id and recipient not in addressed:
        return False
    if sender_side or row["tenant_id"] in viewer.tenants:
        return True
    return row["tenant_id"] == "" and (not recipient or recipient in own)


async def timeline(conn: Conn, message_id: str, viewer: Viewer) -> dict[str, Any] | None:
    """The ordered timeline; None if unknown or not the viewer's (the same answer for both).

    ``conn`` reads under row-level security (mss.tracing.reading). An establishment that only
    received the message sees the events about its own recipients and those about the whole
    message, not what happened to other establishments' recipients; the sender's sees all."""
    found = await conn.fetchrow(
        "SELECT tenants, sender_tenant FROM audit_messages WHERE message_id = $1", message_id
    )
    mine = sorted(set(found["tenants"]) & set(viewer.tenants)) if found else []
    if found is None or not mine:
        return None
    sender_side = found["sender_tenant"] in viewer.tenants
    everything = await conn.fetch(_TIMELINE, message_id)
    addressed = {
        r["recipient"].lower() for r in everything if r["message_id"] == message_id and r["recipient"]
    }
    own = {r["recipient"].lower() for r in everything if r["tenant_id"] in viewer.tenants and r["recipient"]}
    rows = [row for row in everything if _shown(row, message_id, sender_side, viewer, addressed, own)]
    events = [_event(row, message_id, viewer) for row in rows]
    recipients: dict[str, dict[str, Any]] = {}
    for row, event in zip(rows, events, strict=True):
        if row["code"] == AuditCode.AUDIT_CODE_DISPOSITION_NOTIFIED and row["message_id"] != message_id:
            state = recipients.setdefault(row["recipient"], {"attempts": 0})
            state["disposition"] = row["reason"]
        elif row["recipient"] and row["status"]:
            state = recipients.setdefault(row["recipient"], {"attempts": 0})
            state.update(status=event["status"], reply=row["reply"], at=event["at"])
            state["attempts"] = max(state["attempts"], row["attempt"])
    return {
        "message_id": message_id,
        "establishments": mine,
        "trace_ids": sorted({e["trace_id"] for e in events if e["trace_id"]}),
        "recipients": recipients,
        "events": events,
    }
