"""Audit ingestion: how fast tracing appends audit events to the hash-chained trail, beside a
reference in the same invocation, and how long `mss audit verify` takes over the result.

A private PostgreSQL and nats-server are started on free ports. ``--events`` audit events spread over
``--tenants`` establishments are published to the audit stream first; then:

* **reference**: the same rows written straight to ``audit_events`` by ``executemany`` in batches of
  256 (no chain, no bus): the floor of what PostgreSQL takes here;
* **tracing**: the tracing service (in this process) consumes the stream and appends the events to
  their chains (one transaction per batch, chain heads locked); timed until every event is stored;
* **verify**: the recomputation of every chain.

    uv run python bench/audit.py [--events 20000] [--tenants 10] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path
from typing import Any

import asyncpg
from mss.bus import streams, subjects
from mss.bus.codec import encode, now_timestamp
from mss.core.ids import new_queue_id
from mss.db.migrate import migrate
from mss.devstack.ports import free_port
from mss.devstack.postgres import PostgresConfig, start_postgres, stop_postgres
from mss.testing.fixtures import RunningNats, start_test_nats
from mss.testing.inprocess import running
from mss.tracing.app import build as build_tracing
from mss.tracing.chain import verify
from mss.tracing.settings import TracingSettings
from mss.v1 import AuditCode, AuditEvent


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def events(count: int, tenants: int) -> list[AuditEvent]:
    made = []
    for n in range(count):
        event = AuditEvent(
            event_id=new_queue_id(),
            code=AuditCode.AUDIT_CODE_RELAYED,
            service="egress",
            tenant_id=f"bench-{n % tenants}",
            message_id=f"01BENCH{n // 3:08d}",
            recipient=f"r{n}@ch-exemple.mssante.fr",
            reply="250 2.0.0 Ok: queued",
            reason="relayed",
        )
        event.at.CopyFrom(now_timestamp())
        made.append(event)
    return made


async def reference(url: str, made: list[AuditEvent]) -> float:
    """Events per second written straight to the table (other tenant ids: no chain is touched)."""
    conn = await asyncpg.connect(url)
    try:
        for event in (made[0], made[-1]):  # the months' partitions, as tracing makes them
            await conn.execute("SELECT audit_events_partition($1)", event.at.ToDatetime(tzinfo=UTC))
        started = time.perf_counter()
        for first in range(0, len(made), 256):
            await conn.executemany(
                "INSERT INTO audit_events (event_id, message_id, code, service, at, tenant_id, recipient,"
                " reply, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                [
                    (
                        f"ref-{e.event_id}",
                        e.message_id,
                        e.code,
                        e.service,
                        e.at.ToDatetime(tzinfo=UTC),
                        f"ref-{e.tenant_id}",
                        e.recipient,
                        e.reply,
                        e.reason,
                    )
                    for e in made[first : first + 256]
                ],
            )
        return len(made) / (time.perf_counter() - started)
    finally:
        await conn.close()


async def measure(args: argparse.Namespace, url: str, nats: RunningNats) -> dict[str, Any]:
    """The three figures, against a running PostgreSQL (migrated here) and nats-server."""
    await migrate(url)
    made = events(args.events, args.tenants)
    ref = await reference(url, made)
    log(f"reference: {ref:.0f} events/s")
    client = await nats.connect()  # the harness: streams as their owners make them, events as egress
    js = client.jetstream()
    await streams.ensure_stream(js, streams.AUDIT)
    for event in made:
        await js.publish(subjects.audit("egress"), encode(event))
    conn = await asyncpg.connect(url)
    settings = TracingSettings(**nats.settings("tracing"), http_port=0, database_url=url)
    started = time.perf_counter()
    count = "SELECT count(*) FROM audit_events WHERE tenant_id LIKE 'bench-%'"
    async with running(build_tracing(settings)):
        for _ in range(12_000):  # polled (bounded, 10 min): the figure is over thousands of events
            if await conn.fetchval(count) >= len(made):
                break
            await asyncio.sleep(0.05)
    chained = len(made) / (time.perf_counter() - started)
    log(f"tracing: {chained:.0f} events/s")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    started = time.perf_counter()
    verdicts = await verify(pool)
    verify_s = time.perf_counter() - started
    await pool.close()
    await conn.close()
    await client.close()
    broken = [v for v in verdicts if v.problem]
    if broken:
        raise SystemExit(f"chains broken after the run: {broken}")
    return {
        "events": len(made),
        "tenants": args.tenants,
        "reference_per_s": round(ref),
        "tracing_per_s": round(chained),
        "ratio": round(chained / ref, 2),
        "verify_s": round(verify_s, 2),
        "verify_per_s": round(len(made) / verify_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/audit.py")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mss-bench-audit-") as folder:
        postgres = PostgresConfig(Path(folder) / "postgres", port=free_port())
        start_postgres(postgres)
        nats = start_test_nats(Path(folder) / "nats")
        try:
            figures = asyncio.run(measure(args, postgres.url(), nats))
        finally:
            nats.stop()
            stop_postgres(postgres)
    print(
        f"audit ingestion, {figures['events']} events over {figures['tenants']} chains:"
        f" tracing {figures['tracing_per_s']}/s, reference {figures['reference_per_s']}/s"
        f" (x{figures['ratio']}); verify {figures['verify_s']} s ({figures['verify_per_s']} events/s)"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
