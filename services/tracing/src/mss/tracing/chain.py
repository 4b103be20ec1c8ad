"""The hash chain of the audit trail, per establishment: an event's hash is the SHA-256 of the
previous event's hash and the event's canonical content. Recomputing the chain from the stored rows
shows whether any event was changed, removed or inserted since it was recorded."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from mss.bus import subjects
from mss.tracing.anchors import Anchors, Point

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
    pool: asyncpg.Pool,
    tenant_id: str | None = None,
    anchors: Anchors | None = None,
    unanchored_for: timedelta | None = None,
) -> list[Verdict]:
    """Recompute every chain (or one) from the stored events, in chain order, and check each against
    what was anchored outside the database (mss.tracing.anchors): every head anchored, and the start
    the last retention purge recorded. A chain with events older than ``unanchored_for`` and no anchor
    at all is a problem too (its anchors are gone)."""
    heads = await pool.fetch(
        "SELECT tenant_id, seq, hash, purged_seq, purged_hash FROM audit_chain"
        " WHERE $1::text IS NULL OR tenant_id = $1 ORDER BY tenant_id",
        tenant_id,
    )
    verdicts = []
    for head in heads:
        if anchors is None:
            verdicts.append(await _verify_one(pool, head, {}))
            continue
        points = await anchors.of(head["tenant_id"])
        start = _start_problem(head, await anchors.last_purge(head["tenant_id"]), points)
        if start:  # the recomputation would start from a point nobody vouches for
            verdicts.append(Verdict(head["tenant_id"], 0, start))
            continue
        verdicts.append(await _verify_one(pool, head, points, unanchored_for))
    if anchors is not None and tenant_id is None:
        known = {subjects.audit_anchor(head["tenant_id"]) for head in heads}
        for subject in sorted(await anchors.chains() - known):
            verdicts.append(Verdict(subject, 0, "the chain is gone from the database, yet it was anchored"))
    return verdicts


def _start_problem(head: asyncpg.Record, purge: tuple[int, str] | None, points: dict[int, Point]) -> str:
    """Why the chain's start cannot be trusted, or "". A purge records the start before it commits,
    so a start behind the last recorded one is a purge that did not commit; one beyond it, or one
    without any record, was set by someone else."""
    start, start_hash = head["purged_seq"], head["purged_hash"]
    if start == 0:
        return ""
    if purge is None or start > purge[0] or (start == purge[0] and start_hash != purge[1]):
        return f"the chain starts at #{start}, which no retention purge recorded: events were cut"
    anchored = points.get(start)
    if anchored is not None and anchored[0] != start_hash:
        return f"the chain's start #{start} differs from its anchor of {anchored[1]}"
    return ""


async def _verify_one(
    pool: asyncpg.Pool,
    head: asyncpg.Record,
    points: dict[int, Point],
    unanchored_for: timedelta | None = None,
) -> Verdict:
    """Recompute one chain from where retention left it (its start) to its head, meeting each
    anchored head on the way."""
    tenant, last = head["tenant_id"], head["seq"]
    previous, expected, count = head["purged_hash"], head["purged_seq"] + 1, 0
    anchored = max((seq for seq in points if seq > head["purged_seq"]), default=0)
    oldest: datetime | None = None
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        async for row in conn.cursor(
            f"SELECT {', '.join(FIELDS + OPTIONAL)}, chain_seq, prev_hash, hash FROM audit_events"  # noqa: S608 (constant)
            " WHERE tenant_id = $1 AND chain_seq IS NOT NULL ORDER BY chain_seq",
            tenant,
        ):
            count += 1
            oldest = row["at"] if oldest is None else min(oldest, row["at"])
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
    stale = unanchored_for is not None and oldest is not None and oldest < datetime.now(UTC) - unanchored_for
    if stale and not points:
        return Verdict(tenant, count, f"no anchor of events since {oldest}: were the anchors removed?")
    return Verdict(tenant, count, anchored_seq=anchored)
