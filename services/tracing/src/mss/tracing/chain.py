"""The hash chain of the audit trail, per establishment: an event's hash is the SHA-256 of the
previous event's hash and the event's canonical content. Recomputing the chain from the stored rows
shows whether any event was changed, removed or inserted since it was recorded."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from mss.bus import subjects
from mss.tracing.anchors import Anchors

GENESIS = "0" * 64
"""The "previous hash" of the first event of a chain."""
FIELDS = (
    "event_id",
    "message_id",
    "code",
    "service",
    "at",
    "tenant_id",
    "recipient",
    "status",
    "reply",
    "reason",
    "trust_list_version",
    "directory_version",
    "trace_id",
    "attempt",
    "mail_from",
    "next_hop",
    "patient_hash",
    "rule",
    "policy_version",
    "header_message_id",
    "original_message_id",
)
"""What an event's hash covers, in this order."""
OPTIONAL = ("tls",)
"""Covered too, after FIELDS, when not empty (events recorded before they existed keep their hash)."""


def canonical(row: dict[str, Any] | asyncpg.Record) -> bytes:
    """The bytes hashed for one event (the same from the event as recorded and as read back)."""
    values = [row[name].isoformat() if isinstance(row[name], datetime) else row[name] for name in FIELDS]
    values += [row[name] for name in OPTIONAL if row[name]]
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()


def link(previous: str, content: bytes) -> str:
    """The hash of an event after ``previous``."""
    return hashlib.sha256(previous.encode() + content).hexdigest()


@dataclass(frozen=True)
class Verdict:
    """What the recomputation found for one establishment's chain."""

    tenant_id: str
    events: int
    problem: str = ""
    """Empty when the chain holds; else the first break found."""
    anchored_seq: int = 0
    """The event number checked against the latest anchor (0: none)."""


async def verify(
    pool: asyncpg.Pool, tenant_id: str | None = None, anchors: Anchors | None = None
) -> list[Verdict]:
    """Recompute every chain (or one) from the stored events, in chain order, and check each against
    every head anchored outside the database (mss.tracing.anchors)."""
    heads = await pool.fetch(
        "SELECT tenant_id, seq, hash, purged_seq, purged_hash FROM audit_chain"
        " WHERE $1::text IS NULL OR tenant_id = $1 ORDER BY tenant_id",
        tenant_id,
    )
    verdicts = []
    for head in heads:
        points = await anchors.of(head["tenant_id"]) if anchors else {}
        verdicts.append(await _verify_one(pool, head, points))
    if anchors is not None and tenant_id is None:
        known = {subjects.audit_anchor(head["tenant_id"]) for head in heads}
        for subject in sorted(await anchors.chains() - known):
            verdicts.append(Verdict(subject, 0, "the chain is gone from the database, yet it was anchored"))
    return verdicts


async def _verify_one(
    pool: asyncpg.Pool, head: asyncpg.Record, points: dict[int, tuple[str, str]]
) -> Verdict:
    """Recompute one chain from where retention left it (its start) to its head, meeting each
    anchored head on the way."""
    tenant, last = head["tenant_id"], head["seq"]
    previous, expected, count = head["purged_hash"], head["purged_seq"] + 1, 0
    anchored = max((seq for seq in points if seq > head["purged_seq"]), default=0)
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        async for row in conn.cursor(
            f"SELECT {', '.join(FIELDS + OPTIONAL)}, chain_seq, prev_hash, hash FROM audit_events"  # noqa: S608 (constant)
            " WHERE tenant_id = $1 AND chain_seq IS NOT NULL ORDER BY chain_seq",
            tenant,
        ):
            count += 1
            if row["chain_seq"] != expected:
                return Verdict(
                    tenant, count, f"event #{expected} is missing (next found: #{row['chain_seq']})"
                )
            if row["prev_hash"] != previous or row["hash"] != link(previous, canonical(row)):
                return Verdict(tenant, count, f"event #{expected} ({row['event_id']}) was changed")
            point = points.get(expected)
            if point is not None and row["hash"] != point[0]:
                problem = f"event #{expected} differs from its anchor of {point[1]}: the chain was rewritten"
                return Verdict(tenant, count, problem, anchored)
            previous, expected = row["hash"], expected + 1
    if expected - 1 != last or previous != head["hash"]:
        return Verdict(tenant, count, f"the chain ends at #{expected - 1}, its head says #{last}", anchored)
    if anchored > last:
        problem = f"the chain ends at #{last}, its anchor of {points[anchored][1]} says #{anchored}"
        return Verdict(tenant, count, problem, anchored)
    return Verdict(tenant, count, anchored_seq=anchored)
