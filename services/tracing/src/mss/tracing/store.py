"""The timeline store: audit events in PostgreSQL, idempotent by event id, append-only and
hash-chained per establishment (see mss.tracing.chain), in monthly partitions. Each batch also
keeps the search tables up to date: one row per message, with the establishments it concerns, and
one per recipient (see mss.tracing.search)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
from google.protobuf.json_format import MessageToDict
from mss.db.pool import Conn
from mss.tracing.chain import FIELDS, GENESIS, OPTIONAL, canonical, link
from mss.v1 import AuditCode, AuditEvent

_INSERT = """
INSERT INTO audit_events (event_id, message_id, code, service, at, tenant_id, recipient, status,
    reply, reason, trust_list_version, directory_version, trace_id, attempt, mail_from, next_hop,
    patient_hash, rule, policy_version, header_message_id, original_message_id, tls, chain_seq,
    prev_hash, hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
    $22, $23, $24, $25)
"""
_HEADS = "SELECT tenant_id, seq, hash FROM audit_chain WHERE tenant_id = ANY($1::text[]) FOR UPDATE"

_MESSAGES = """
INSERT INTO audit_messages AS m (message_id, first_at, last_at, mail_from, sender_tenant, tenants,
    patient_hash, header_message_id)
SELECT e.message_id, e.first_at, e.last_at, e.mail_from, coalesce(d.tenant_id, ''),
    ARRAY(SELECT DISTINCT t FROM unnest(string_to_array(e.tenants, ' ') || d.tenant_id) t WHERE t <> ''
        ORDER BY t),
    e.patient_hash, e.header_message_id
FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[])
    AS e (message_id, first_at, last_at, mail_from, patient_hash, header_message_id, tenants)
LEFT JOIN domains d ON e.mail_from <> '' AND d.name = lower(split_part(e.mail_from, '@', 2))
ORDER BY e.message_id
ON CONFLICT (message_id) DO UPDATE SET
    first_at = least(m.first_at, excluded.first_at),
    last_at = greatest(m.last_at, excluded.last_at),
    mail_from = CASE WHEN m.mail_from = '' THEN excluded.mail_from ELSE m.mail_from END,
    sender_tenant = CASE WHEN m.sender_tenant = '' THEN excluded.sender_tenant ELSE m.sender_tenant END,
    tenants = ARRAY(SELECT DISTINCT t FROM unnest(m.tenants || excluded.tenants) t ORDER BY t),
    patient_hash = CASE WHEN m.patient_hash = '' THEN excluded.patient_hash ELSE m.patient_hash END,
    header_message_id = CASE WHEN m.header_message_id = '' THEN excluded.header_message_id
        ELSE m.header_message_id END
"""
_RECIPIENTS = """
INSERT INTO audit_recipients AS r (message_id, recipient, tenant_id, status, at, attempts, reply, tenants)
SELECT e.*, m.tenants
FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::int[], $7::text[])
    AS e (message_id, recipient, tenant_id, status, at, attempts, reply)
JOIN audit_messages m ON m.message_id = e.message_id
ON CONFLICT (message_id, recipient) DO UPDATE SET
    tenant_id = CASE WHEN r.tenant_id = '' THEN excluded.tenant_id ELSE r.tenant_id END,
    status = CASE WHEN excluded.at >= r.at THEN excluded.status ELSE r.status END,
    reply = CASE WHEN excluded.at >= r.at THEN excluded.reply ELSE r.reply END,
    at = greatest(r.at, excluded.at),
    attempts = greatest(r.attempts, excluded.attempts),
    tenants = excluded.tenants
"""
_RECIPIENT_TENANTS = """
UPDATE audit_recipients r SET tenants = m.tenants
FROM audit_messages m
WHERE m.message_id = r.message_id AND r.message_id = ANY($1::text[]) AND r.tenants <> m.tenants
"""
"""Recipients recorded before their message concerned another establishment follow it."""


@dataclass
class Partitions:
    """The months whose partition is known to exist (made on first need, once per process)."""

    months: set[tuple[int, int]] = field(default_factory=set)

    async def ensure(self, pool: asyncpg.Pool, times: list[datetime]) -> None:
        """Make the partitions of these times' months, each in its own short transaction."""
        for at in times:
            if (at.year, at.month) not in self.months:
                await pool.execute("SELECT audit_events_partition($1)", at)
                self.months.add((at.year, at.month))


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
        _tls(event),
    )


def _tls(event: AuditEvent) -> str:
    """The hop's TLS evidence as compact JSON with sorted keys ("" when none)."""
    if not event.HasField("tls"):
        return ""
    return json.dumps(
        MessageToDict(event.tls, preserving_proto_field_name=True), sort_keys=True, separators=(",", ":")
    )


async def record(pool: asyncpg.Pool, events: list[AuditEvent], partitions: Partitions) -> None:
    """Append events to their establishments' chains in one transaction (a redelivered event is
    stored once). The chain heads are locked first, so replicas append to a chain one at a time."""
    unique = list({event.event_id: event for event in events}.values())
    tenants = sorted({event.tenant_id for event in unique})
    await partitions.ensure(pool, [event.at.ToDatetime(tzinfo=UTC) for event in unique])
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
        fresh = []
        for event in unique:
            if event.event_id in known:
                continue
            row = _row(event)
            seq, previous = heads[event.tenant_id]
            digest = link(previous, canonical(dict(zip(FIELDS + OPTIONAL, row, strict=True))))
            heads[event.tenant_id] = (seq + 1, digest)
            rows.append((*row, seq + 1, previous, digest))
            fresh.append(event)
        await conn.executemany(_INSERT, rows)
        await conn.executemany(
            "UPDATE audit_chain SET seq = $2, hash = $3 WHERE tenant_id = $1",
            [(tenant, seq, digest) for tenant, (seq, digest) in heads.items()],
        )
        await _summarise(conn, fresh)


@dataclass
class _Message:
    """What a batch says of one message."""

    message_id: str
    first_at: datetime
    last_at: datetime
    mail_from: str = ""
    patient_hash: str = ""
    header_message_id: str = ""
    tenants: set[str] = field(default_factory=set)
    """The establishments of its events (its sender's is found from the domain, in SQL)."""

    def add(self, event: AuditEvent, at: datetime) -> None:
        self.first_at, self.last_at = min(self.first_at, at), max(self.last_at, at)
        if event.tenant_id:
            self.tenants.add(event.tenant_id)
        self.mail_from = self.mail_from or event.mail_from.lower()
        self.patient_hash = self.patient_hash or event.patient_hash
        self.header_message_id = self.header_message_id or event.header_message_id

    def row(self) -> tuple[object, ...]:
        return (
            self.message_id,
            self.first_at,
            self.last_at,
            self.mail_from,
            self.patient_hash,
            self.header_message_id,
            " ".join(sorted(self.tenants)),
        )


@dataclass
class _Recipient:
    """A batch's latest word on one recipient."""

    message_id: str
    recipient: str
    tenant_id: str
    status: int
    at: datetime
    attempts: int
    reply: str

    def add(self, event: AuditEvent, at: datetime) -> None:
        self.attempts = max(self.attempts, event.attempt)
        self.tenant_id = self.tenant_id or event.tenant_id
        if at >= self.at:
            self.status, self.at, self.reply = event.status, at, event.reply

    def row(self) -> tuple[object, ...]:
        return (
            self.message_id,
            self.recipient,
            self.tenant_id,
            self.status,
            self.at,
            self.attempts,
            self.reply,
        )


def _columns(rows: Sequence[tuple[object, ...]]) -> list[list[object]]:
    """Rows as the column arrays that unnest() reads back."""
    return [list(column) for column in zip(*rows, strict=True)]


async def _summarise(conn: Conn, events: list[AuditEvent]) -> None:
    """Fold new events into the search tables (rows in key order, so concurrent batches lock alike)."""
    messages: dict[str, _Message] = {}
    recipients: dict[tuple[str, str], _Recipient] = {}
    for event in events:
        if not event.message_id:
            continue  # about no message (a sign-in, a directory change): in the trail, not in searches
        at = event.at.ToDatetime(tzinfo=UTC)
        messages.setdefault(event.message_id, _Message(event.message_id, at, at)).add(event, at)
        if event.recipient and event.status and event.code != AuditCode.AUDIT_CODE_DISPOSITION_NOTIFIED:
            key = (event.message_id, event.recipient.lower())
            found = recipients.setdefault(
                key, _Recipient(*key, event.tenant_id, event.status, at, event.attempt, event.reply)
            )
            found.add(event, at)
    if not messages:
        return
    await conn.execute(_MESSAGES, *_columns([messages[k].row() for k in sorted(messages)]))
    await conn.execute(_RECIPIENT_TENANTS, sorted(messages))
    if recipients:
        await conn.execute(_RECIPIENTS, *_columns([recipients[k].row() for k in sorted(recipients)]))
