"""The timeline store: audit events in PostgreSQL, idempotent by event id, append-only and
hash-chained per establishment (see mss.tracing.chain)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import asyncpg
from mss.tracing.chain import FIELDS, GENESIS, canonical, link
from mss.v1 import AuditCode, AuditEvent, RecipientStatus

_INSERT = """
INSERT INTO audit_events (event_id, message_id, code, service, at, tenant_id, recipient, status,
    reply, reason, trust_list_version, directory_version, trace_id, attempt, mail_from, next_hop,
    patient_hash, rule, policy_version, header_message_id, original_message_id, chain_seq, prev_hash,
    hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
    $22, $23, $24)
"""
_HEADS = "SELECT tenant_id, seq, hash FROM audit_chain WHERE tenant_id = ANY($1::text[]) FOR UPDATE"


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
    """Append events to their establishments' chains in one transaction (a redelivered event is
    stored once). The chain heads are locked first, so replicas append to a chain one at a time."""
    unique = list({event.event_id: event for event in events}.values())
    tenants = sorted({event.tenant_id for event in unique})
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            "INSERT INTO audit_chain (tenant_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING",
            [(tenant, GENESIS) for tenant in tenants],
        )
        heads = {r["tenant_id"]: (r["seq"], r["hash"]) for r in await conn.fetch(_HEADS, tenants)}
        known = {
            r["event_id"]
            for r in await conn.fetch(
                "SELECT event_id FROM audit_events WHERE event_id = ANY($1::text[])",
                [e.event_id for e in unique],
            )
        }
        rows = []
        for event in unique:
            if event.event_id in known:
                continue
            row = _row(event)
            seq, previous = heads[event.tenant_id]
            digest = link(previous, canonical(dict(zip(FIELDS, row, strict=True))))
            heads[event.tenant_id] = (seq + 1, digest)
            rows.append((*row, seq + 1, previous, digest))
        await conn.executemany(_INSERT, rows)
        await conn.executemany(
            "UPDATE audit_chain SET seq = $2, hash = $3 WHERE tenant_id = $1",
            [(tenant, seq, digest) for tenant, (seq, digest) in heads.items()],
        )


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
