"""The timeline store: audit events in PostgreSQL, idempotent by event id."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import asyncpg
from mss.v1 import AuditCode, AuditEvent, RecipientStatus

_INSERT = """
INSERT INTO audit_events (event_id, message_id, code, service, at, tenant_id, recipient, status,
    reply, reason, trust_list_version, directory_version, trace_id, attempt, mail_from, next_hop,
    patient_hash, rule, policy_version, header_message_id, original_message_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
ON CONFLICT (event_id) DO NOTHING
"""


_TIMELINE = """
SELECT * FROM audit_events WHERE message_id = $1
UNION ALL
SELECT * FROM audit_events
WHERE original_message_id <> '' AND original_message_id IN (
    SELECT header_message_id FROM audit_events
    WHERE message_id = $1 AND code = 200 AND header_message_id <> '')
ORDER BY at, seq
"""
"""A message's own events, and the disposition notifications (MDN) that refer to its Message-ID."""


def _row(event: AuditEvent) -> tuple[object, ...]:
    return (
        event.event_id,
        event.message_id,
        event.code,
        event.service,
        event.at.ToDatetime(tzinfo=UTC),
        event.tenant_id,
        event.recipient,
        event.status,
        event.reply,
        event.reason,
        event.trust_list_version,
        event.directory_version,
        event.trace_id,
        event.attempt,
        event.mail_from,
        event.next_hop,
        event.patient_hash,
        event.rule,
        event.policy_version,
        event.header_message_id,
        event.original_message_id,
    )


async def record(pool: asyncpg.Pool, events: list[AuditEvent]) -> None:
    """Store events in one round trip (a redelivered event is stored once)."""
    await pool.executemany(_INSERT, [_row(event) for event in events])


def _name(enum: Any, value: int, prefix: str) -> str:
    try:
        return str(enum.Name(value)).removeprefix(prefix)
    except ValueError:
        return str(value)


async def timeline(pool: asyncpg.Pool, message_id: str) -> dict[str, Any] | None:
    """The ordered timeline of a message with each recipient's latest status; None if unknown."""
    rows = await pool.fetch(_TIMELINE, message_id)
    if not rows:
        return None
    events = []
    recipients: dict[str, dict[str, Any]] = {}
    for row in rows:
        event = {
            "at": row["at"].isoformat(),
            "service": row["service"],
            "event": _name(AuditCode, row["code"], "AUDIT_CODE_"),
            "code": row["code"],
            "recipient": row["recipient"],
            "status": _name(RecipientStatus, row["status"], "RECIPIENT_STATUS_") if row["status"] else "",
            "reply": row["reply"],
            "reason": row["reason"],
            "next_hop": row["next_hop"],
            "attempt": row["attempt"],
            "tenant_id": row["tenant_id"],
            "trust_list_version": row["trust_list_version"],
            "directory_version": row["directory_version"],
            "trace_id": row["trace_id"],
            "patient_hash": row["patient_hash"],
            "rule": row["rule"],
            "policy_version": row["policy_version"],
            "about": row["original_message_id"],
            "notification": row["message_id"] if row["message_id"] != message_id else "",
        }
        events.append(event)
        if row["code"] == AuditCode.AUDIT_CODE_DISPOSITION_NOTIFIED and row["message_id"] != message_id:
            state = recipients.setdefault(row["recipient"], {"attempts": 0})
            state["disposition"] = row["reason"]
        elif row["recipient"] and row["status"]:
            state = recipients.setdefault(row["recipient"], {"attempts": 0})
            state.update(status=event["status"], reply=row["reply"], at=event["at"])
            state["attempts"] = max(state["attempts"], row["attempt"])
    return {
        "message_id": message_id,
        "trace_ids": sorted({e["trace_id"] for e in events if e["trace_id"]}),
        "recipients": recipients,
        "events": events,
    }
