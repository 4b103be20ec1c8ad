"""The audit trail is append-only and hash-chained per establishment: `mss audit verify` says the
chains hold, and finds an event changed or removed behind the database's back."""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from datetime import timedelta

import asyncpg
import nats
import pytest
from mss.bus import subjects
from mss.bus.codec import encode, now_timestamp
from mss.cli.__main__ import run as mss
from mss.cli.settings import CliSettings
from mss.core.ids import new_queue_id
from mss.testing.fixtures import RunningNats
from mss.testing.inprocess import running
from mss.tracing.anchors import Anchors
from mss.tracing.app import build as build_tracing
from mss.tracing.chain import Verdict, canonical, link
from mss.tracing.chain import verify as chain_verify
from mss.tracing.settings import TracingSettings
from mss.tracing.store import Partitions, record
from mss.v1 import AuditCode, AuditEvent

pytestmark = pytest.mark.integration


async def publish(bus: nats.NATS, tenant: str, count: int) -> list[str]:
    ids = []
    for n in range(count):
        event = AuditEvent(
            event_id=new_queue_id(),
            code=AuditCode.AUDIT_CODE_STORED,
            service="storage",
            tenant_id=tenant,
            message_id=f"01CHAIN{n}",
            reason=f"event {n}",
        )
        event.at.CopyFrom(now_timestamp())
        await bus.jetstream().publish(subjects.audit("storage"), encode(event))
        ids.append(event.event_id)
    return ids


async def stored(conn: asyncpg.Connection, tenant: str, count: int) -> None:
    for _ in range(500):
        if await conn.fetchval("SELECT count(*) FROM audit_events WHERE tenant_id = $1", tenant) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{tenant}: fewer than {count} events stored")


async def verify(ops: dict[str, str], tenant: str) -> tuple[int, str]:
    out = io.StringIO()
    status = await mss(["audit", "verify", "--tenant", tenant], CliSettings(**ops), out)
    return status, out.getvalue()


async def test_verify_finds_a_changed_and_a_removed_event(
    nats_server: RunningNats, database_url: str, bus: nats.NATS
) -> None:
    changed, removed = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    settings = TracingSettings(
        **nats_server.settings("tracing"), http_port=0, database_url=database_url, linger=0.05
    )
    conn = await asyncpg.connect(database_url)
    try:
        async with running(build_tracing(settings)):
            ids = await publish(bus, changed, 3)
            gone = await publish(bus, removed, 3)
            await stored(conn, changed, 3)
            await stored(conn, removed, 3)
            assert await verify(nats_server.settings("ops"), changed) == (0, f"{changed}\t3 events\tholds\n")
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await conn.execute("UPDATE audit_events SET reason = 'nothing' WHERE event_id = $1", ids[1])
            await conn.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
            try:  # what someone with the database's keys could do
                await conn.execute("UPDATE audit_events SET reason = 'nothing' WHERE event_id = $1", ids[1])
                await conn.execute("DELETE FROM audit_events WHERE event_id = $1", gone[0])
            finally:
                await conn.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
            status, out = await verify(nats_server.settings("ops"), changed)
            assert (status, out) == (1, f"{changed}\t2 events\tevent #2 ({ids[1]}) was changed\n")
            status, out = await verify(nats_server.settings("ops"), removed)
            assert (status, out) == (1, f"{removed}\t1 events\tevent #1 is missing (next found: #2)\n")
            await publish(bus, changed, 1)  # the chain goes on after the break
            await stored(conn, changed, 4)
    finally:
        await conn.close()


async def rewrite(conn: asyncpg.Connection, tenant: str, seq: int) -> None:
    """What someone holding the database could do: change event ``seq`` and recompute every hash
    after it, and the chain's head, so that the chain holds again by itself."""
    await conn.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    try:
        rows = await conn.fetch(
            "SELECT * FROM audit_events WHERE tenant_id = $1 AND chain_seq >= $2 ORDER BY chain_seq",
            tenant,
            seq,
        )
        previous = rows[0]["prev_hash"]
        for n, row in enumerate(rows):
            fields = dict(row) | ({"reason": "nothing to see"} if n == 0 else {})
            digest = link(previous, canonical(fields))
            await conn.execute(
                "UPDATE audit_events SET reason = $2, prev_hash = $3, hash = $4 WHERE event_id = $1",
                row["event_id"],
                fields["reason"],
                previous,
                digest,
            )
            previous = digest
        await conn.execute("UPDATE audit_chain SET hash = $2 WHERE tenant_id = $1", tenant, previous)
    finally:
        await conn.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")


async def test_a_chain_rewritten_hashes_and_all_still_differs_from_its_anchor(
    nats_server: RunningNats, database_url: str, bus: nats.NATS
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    settings = TracingSettings(
        **nats_server.settings("tracing"),
        http_port=0,
        database_url=database_url,
        linger=0.05,
        anchor_interval=0.05,
    )
    conn = await asyncpg.connect(database_url)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        async with running(build_tracing(settings)):
            await publish(bus, tenant, 3)
            await stored(conn, tenant, 3)
            for _ in range(500):  # until the head is anchored
                status, out = await verify(nats_server.settings("ops"), tenant)
                if out.endswith("anchored up to #3\n"):
                    break
                await asyncio.sleep(0.02)
            assert (status, out) == (0, f"{tenant}\t3 events\tholds, anchored up to #3\n")
            await rewrite(conn, tenant, 2)
            assert await chain_verify(pool, tenant) == [
                Verdict(tenant, 3)
            ]  # the database alone says it holds
            status, out = await verify(nats_server.settings("ops"), tenant)
            # the anchor taken at #2 or #3, whichever the loop caught, no longer matches
            assert status == 1
            rewritten = r"event #[23] differs from its anchor of \S+: the chain was rewritten"
            assert re.fullmatch(rf"{tenant}\t[23] events\t{rewritten}\n", out), out
    finally:
        await pool.close()
        await conn.close()


async def test_a_chain_cut_at_its_beginning_or_never_anchored_is_found(
    nats_server: RunningNats, database_url: str, bus: nats.NATS
) -> None:
    cut, unanchored = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    settings = TracingSettings(
        **nats_server.settings("tracing"),
        http_port=0,
        database_url=database_url,
        linger=0.05,
        anchor_interval=0.05,
    )
    conn = await asyncpg.connect(database_url)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    anchors = Anchors(bus.jetstream())
    try:
        async with running(build_tracing(settings)):
            await publish(bus, cut, 3)
            await stored(conn, cut, 3)
            for _ in range(500):  # until the head is anchored
                if 3 in await anchors.of(cut):
                    break
                await asyncio.sleep(0.02)
        # What someone holding the database could do: remove the first events and move the start.
        second = await conn.fetchval(
            "SELECT hash FROM audit_events WHERE tenant_id = $1 AND chain_seq = 2", cut
        )
        await conn.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        try:
            await conn.execute("DELETE FROM audit_events WHERE tenant_id = $1 AND chain_seq <= 2", cut)
        finally:
            await conn.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
        await conn.execute(
            "UPDATE audit_chain SET purged_seq = 2, purged_hash = $2 WHERE tenant_id = $1", cut, second
        )
        assert await chain_verify(pool, cut) == [Verdict(cut, 1)]  # the database alone says it holds
        (verdict,) = await chain_verify(pool, cut, anchors)
        assert verdict.problem == "the chain starts at #2, which no retention purge recorded: events were cut"

        # A chain whose anchors were removed (here: never published) is found once it is old enough.
        await record(pool, [event_of(unanchored)], Partitions())
        (fresh,) = await chain_verify(pool, unanchored, anchors, unanchored_for=timedelta(hours=1))
        (old,) = await chain_verify(pool, unanchored, anchors, unanchored_for=timedelta(0))
        assert (fresh.problem, old.problem[:23]) == ("", "no anchor of events sin")
    finally:
        await pool.close()
        await conn.close()


def event_of(tenant: str) -> AuditEvent:
    event = AuditEvent(
        event_id=new_queue_id(), code=AuditCode.AUDIT_CODE_STORED, service="storage", tenant_id=tenant
    )
    event.message_id = f"01LONE{tenant}"
    event.at.CopyFrom(now_timestamp())
    return event
