"""Retention of audit metadata: each establishment keeps its events for its own number of months
(``tenants.audit_retention_months``), unless a legal hold suspends it.

A purge removes the oldest events of a chain, up to the first event still within the retention
period, and records the number and hash of the last one removed as the chain's new start: `mss
audit verify` then checks the remaining chain from there. Messages no longer concerning any
establishment leave the search tables. Each purge is written to the access log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from mss.db.pool import Conn
from mss.tracing.access import log_access

ACTOR = "mss-retention"


@dataclass(frozen=True)
class Purge:
    """What one sweep removed from one chain."""

    tenant_id: str
    first: int
    last: int
    cutoff: datetime


Recorder = Callable[[str, int, str], Awaitable[None]]
"""Records a chain's new start (establishment, number, hash) outside the database, before it commits."""


async def sweep(
    pool: asyncpg.Pool, now: datetime, unattributed_months: int, record: Recorder | None = None
) -> list[Purge]:
    """Purge every establishment's expired events (not those on legal hold), and the events without an
    establishment after ``unattributed_months`` (unless some establishment is on hold: they may be
    part of its messages)."""
    tenants = await pool.fetch(
        "SELECT t.id, t.ght_id, $1::timestamptz - make_interval(months => t.audit_retention_months) AS cutoff"
        " FROM tenants t JOIN audit_chain c ON c.tenant_id = t.id WHERE NOT t.legal_hold"
        " UNION ALL"
        " SELECT '', '', $1::timestamptz - make_interval(months => $2)"
        " WHERE EXISTS (SELECT 1 FROM audit_chain WHERE tenant_id = '')"
        " AND NOT EXISTS (SELECT 1 FROM tenants WHERE legal_hold)"
        " ORDER BY 1",
        now,
        unattributed_months,
    )
    purges = []
    for tenant in tenants:
        purge = await purge_chain(pool, tenant["id"], tenant["cutoff"], record)
        if purge is not None:
            purges.append(purge)
            await log_access(
                pool,
                ACTOR,
                "retention purge",
                f"{purge.tenant_id}: events #{purge.first} to #{purge.last},"
                f" before {purge.cutoff.isoformat()}",
                ght_id=tenant["ght_id"],
            )
    return purges


async def purge_chain(
    pool: asyncpg.Pool, tenant: str, cutoff: datetime, record: Recorder | None = None
) -> Purge | None:
    """Remove the events of ``tenant``'s chain before ``cutoff`` (None when there are none); the new
    start is recorded by ``record`` before the transaction commits."""
    async with pool.acquire() as conn, conn.transaction():
        head = await conn.fetchrow(
            "SELECT seq, purged_seq FROM audit_chain WHERE tenant_id = $1 FOR UPDATE", tenant
        )
        if head is None:
            return None
        first_kept = await conn.fetchval(
            "SELECT min(chain_seq) FROM audit_events"
            " WHERE tenant_id = $1 AND at >= $2 AND chain_seq IS NOT NULL",
            tenant,
            cutoff,
        )
        last = (first_kept - 1) if first_kept is not None else head["seq"]
        if last <= head["purged_seq"]:
            return None
        last_hash = await conn.fetchval(
            "SELECT hash FROM audit_events WHERE tenant_id = $1 AND chain_seq = $2", tenant, last
        )
        await conn.execute("SELECT set_config('mss.audit_purge', 'on', true)")
        gone = await conn.fetch(
            "DELETE FROM audit_events WHERE tenant_id = $1 AND chain_seq <= $2 RETURNING message_id",
            tenant,
            last,
        )
        await conn.execute(
            "UPDATE audit_chain SET purged_seq = $2, purged_hash = $3 WHERE tenant_id = $1",
            tenant,
            last,
            last_hash,
        )
        await _forget(conn, tenant, sorted({r["message_id"] for r in gone}))
        if record is not None:
            await record(tenant, last, last_hash)
        return Purge(tenant, head["purged_seq"] + 1, last, cutoff)


async def _forget(conn: Conn, tenant: str, message_ids: list[str]) -> None:
    """Keep the search rows of these messages true to what is left: take the establishment off those
    that have no event of it any more, and drop the rows of messages with no event left at all or
    concerning no one."""
    remaining = {
        r["message_id"]
        for r in await conn.fetch(
            "SELECT DISTINCT message_id FROM audit_events WHERE message_id = ANY($1) AND tenant_id = $2",
            message_ids,
            tenant,
        )
    }
    gone = [m for m in message_ids if m not in remaining]
    if tenant:
        for table in ("audit_messages", "audit_recipients"):
            await conn.execute(
                f"UPDATE {table} SET tenants = array_remove(tenants, $1) WHERE message_id = ANY($2)",  # noqa: S608
                tenant,
                gone,
            )
    empty = await conn.fetch(
        "SELECT message_id FROM audit_messages m WHERE message_id = ANY($1) AND (tenants = '{}'"
        " OR NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.message_id = m.message_id))",
        message_ids,
    )
    ids = [r["message_id"] for r in empty]
    await conn.execute("DELETE FROM audit_recipients WHERE message_id = ANY($1)", ids)
    await conn.execute("DELETE FROM audit_messages WHERE message_id = ANY($1)", ids)
