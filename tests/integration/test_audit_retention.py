"""Retention of the audit trail: each establishment's expired events are purged (not under legal
hold), the chain still verifies from its new start, and the purge is in the access log."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import nats
import pytest
from mss.core.ids import new_queue_id
from mss.testing.audit_site import seed
from mss.tracing.anchors import Anchors
from mss.tracing.chain import verify
from mss.tracing.retention import sweep
from mss.tracing.store import Partitions, record
from mss.v1 import AuditCode, AuditEvent, RecipientStatus

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    yield pool
    await pool.close()


def stored(tenant: str, message_id: str, at: datetime) -> AuditEvent:
    event = AuditEvent(
        event_id=new_queue_id(),
        code=AuditCode.AUDIT_CODE_STORED,
        service="storage",
        tenant_id=tenant,
        message_id=message_id,
        recipient=f"accueil@{tenant}.mssante.fr",
        status=RecipientStatus.RECIPIENT_STATUS_DELIVERED,
    )
    event.at.FromDatetime(at)
    return event


async def test_expired_events_go_unless_held_and_the_chain_still_verifies(
    pool: asyncpg.Pool, bus: nats.NATS
) -> None:
    anchors = Anchors(bus.jetstream())
    async with pool.acquire() as conn:
        names = await seed(conn, secrets.token_hex(4))
    kept, held = names["a"], names["b"]
    await pool.execute("UPDATE tenants SET audit_retention_months = 3 WHERE id = ANY($1)", [kept, held])
    await pool.execute(
        "UPDATE tenants SET legal_hold = true, legal_hold_reason = 'court order' WHERE id = $1", held
    )
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=200), now - timedelta(days=10)
    events = [stored(kept, f"01OLD{n}{kept}", old + timedelta(minutes=n)) for n in range(3)]
    events += [stored(kept, f"01NEW{n}{kept}", recent + timedelta(minutes=n)) for n in range(2)]
    events += [stored(held, f"01OLD{n}{held}", old + timedelta(minutes=n)) for n in range(2)]
    await record(pool, events, Partitions())
    month = await pool.fetchval("SELECT to_regclass($1)::text", f"audit_events_{old:%Y_%m}")
    assert month == f"audit_events_{old:%Y_%m}"

    purges = [p for p in await sweep(pool, now, 1200, anchors.purged) if p.tenant_id in (kept, held)]

    assert [(p.tenant_id, p.first, p.last) for p in purges] == [(kept, 1, 3)]
    left = await pool.fetch(
        "SELECT message_id FROM audit_events WHERE tenant_id = $1 ORDER BY chain_seq", kept
    )
    assert [r["message_id"] for r in left] == [f"01NEW0{kept}", f"01NEW1{kept}"]
    assert await pool.fetchval("SELECT count(*) FROM audit_events WHERE tenant_id = $1", held) == 2
    assert [(v.events, v.problem) for v in await verify(pool, kept, anchors)] == [(2, "")]  # start recorded
    assert [(v.events, v.problem) for v in await verify(pool, held)] == [(2, "")]
    gone = await pool.fetchval(
        "SELECT count(*) FROM audit_messages WHERE message_id LIKE '01OLD%' || $1", kept
    )
    assert gone == 0
    logged = await pool.fetchval(
        "SELECT target FROM audit_access_log WHERE action = 'retention purge' AND target LIKE $1 || ':%'",
        kept,
    )
    assert logged.startswith(f"{kept}: events #1 to #3, before ")
    again = [p for p in await sweep(pool, now, 1200, anchors.purged) if p.tenant_id in (kept, held)]
    assert again == []  # nothing more to purge
