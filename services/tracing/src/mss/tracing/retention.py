"""Retention of audit metadata: each establishment keeps its events for its own number of months
(``tenants.audit_retention_months``), unless a legal hold suspends it.

A purge removes the oldest events of a chain, up to the first event still within the retention
period, and records the number and hash of the last one removed as the chain's new start: `mss
audit verify` then checks the remaining chain from there. Messages no longer concerning any
establishment leave the search tables. Each purge is written to the access log."""

from __future__ import annotations

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


async def sweep(pool: asyncpg.Pool, now: datetime) -> list[Purge]:
    """Purge every establishment's expired events (not those on legal hold)."""
    tenants = await pool.fetch(
        "SELECT t.id, t.ght_id, $1::timestamptz - make_interval(months => t.audit_retention_months) AS cutoff"
        " FROM tenants t JOIN audit_chain c ON c.tenant_id = t.id WHERE NOT t.legal_hold ORDER BY t.id",
        now,
    )
    purges = []
    for tenant in tenants:
        purge = await purge_chain(pool, tenant["id"], tenant["cutoff"])
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


async def purge_chain(pool: asyncpg.Pool, tenant: str, cutoff: datetime) -> Purge | None:
    """Remove the events of ``tenant``'s chain before ``cutoff`` (None when there are none)."""
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
        return Purge(tenant, head["purged_seq"] + 1, last, cutoff)


async def _forget(conn: Conn, tenant: str, message_ids: list[str]) -> None:
    """Take the establishment off the search rows of messages that no longer have events of it, and
    drop the rows of messages that no longer concern anyone."""
    remaining = {
        r["message_id"]
        for r in await conn.fetch(
            "SELECT DISTINCT message_id FROM audit_events WHERE message_id = ANY($1) AND tenant_id = $2",
            message_ids,
            tenant,
        )
    }
    gone = [m for m in message_ids if m not in remaining]
    await conn.execute(
        "UPDATE audit_messages SET tenants = array_remove(tenants, $1),"
        " sender_tenant = CASE WHEN sender_tenant = $1 THEN '' ELSE sender_tenant END"
        " WHERE message_id = ANY($2)",
        tenant,
        gone,
    )
    await conn.execute(
        "UPDATE audit_recipients SET tenants = array_remove(tenants, $1) WHERE message_id = ANY($2)",
        tenant,
        gone,
    )
    orphans = "SELECT message_id FROM audit_messages WHERE message_id = ANY($1) AND tenants = '{}'"
    await conn.execute(f"DELETE FROM audit_recipients WHERE message_id IN ({orphans})", gone)  # noqa: S608
    await conn.execute("DELETE FROM audit_messages WHERE message_id = ANY($1) AND tenants = '{}'", gone)
