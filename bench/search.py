"""Audit search at scale: the p50/p95 of the audit API's searches and timelines over a store of
``--messages`` messages and ten events each (1 million / 10 million by default), beside a
reference query in the same invocation (a primary-key lookup of one message row).

A private PostgreSQL is started on a free port, migrated, and filled in SQL (12 months, 20
establishments of one GHT, two recipients per message, a third of the messages about a patient).
Each kind of query then runs ``--rounds`` times with random arguments, through the same code as the
API (row-level security included), as a GHT administrator and as one establishment's auditor.

    uv run python bench/search.py [--messages 1000000] [--rounds 40] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from mss.db.migrate import migrate
from mss.devstack.ports import free_port
from mss.devstack.postgres import PostgresConfig, start_postgres, stop_postgres
from mss.tracing.accounts import Viewer
from mss.tracing.reading import reading
from mss.tracing.search import Query, search
from mss.tracing.timeline import timeline

TENANTS = 20
SENDERS = 5_000
RECIPIENTS = 20_000
PATIENTS = 200_000
END = datetime(2026, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=365)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


FILL = [
    """INSERT INTO ght (id, name) VALUES ('ght-bench', 'bench')""",
    """INSERT INTO tenants (id, ght_id, name, finess)
       SELECT 't' || n, 'ght-bench', 'T' || n, lpad(n::text, 9, '0')
       FROM generate_series(0, {tenants} - 1) n""",
    """INSERT INTO audit_messages (message_id, first_at, last_at, mail_from, sender_tenant, tenants,
           patient_hash, header_message_id)
       SELECT 'M' || lpad(n::text, 9, '0'), {start} + n * {step},
           {start} + n * {step} + interval '12 seconds',
           'u' || (n % {senders}) || '@t' || (n % {tenants}) || '.mssante.fr', 't' || (n % {tenants}),
           ARRAY['t' || (n % {tenants}), 't' || ((n + 1) % {tenants})],
           CASE WHEN n % 3 = 0 THEN md5('p' || (n % {patients})) ELSE '' END, '<' || n || '@bench>'
       FROM generate_series({first}, {last}) n""",
    """INSERT INTO audit_recipients (message_id, recipient, tenant_id, status, at, attempts, reply, tenants)
       SELECT 'M' || lpad(n::text, 9, '0'),
           'd' || ((n * 7 + r) % {recipients}) || '@t' || ((n + 1) % {tenants}) || '.mssante.fr',
           't' || ((n + 1) % {tenants}),
           CASE WHEN (n + r) % 50 = 0 THEN 4 WHEN (n + r) % 97 = 0 THEN 3 ELSE 2 END,
           {start} + n * {step} + interval '10 seconds', 1, '250 2.0.0 Ok',
           ARRAY['t' || (n % {tenants}), 't' || ((n + 1) % {tenants})]
       FROM generate_series({first}, {last}) n, generate_series(0, 1) r""",
    """INSERT INTO audit_events (event_id, message_id, code, service, at, tenant_id, recipient, status, reply,
           mail_from, patient_hash)
       SELECT 'E' || n || '-' || k, 'M' || lpad(n::text, 9, '0'),
           (ARRAY[200, 301, 300, 300, 400, 500, 501, 500, 302, 503])[k + 1],
           (ARRAY['ingress', 'policy', 'policy', 'policy', 'storage', 'egress', 'egress', 'egress', 'policy',
               'egress'])[k + 1],
           {start} + n * {step} + k * interval '1 second',
           CASE WHEN k IN (0, 1) THEN '' ELSE 't' || ((n + 1) % {tenants}) END,
           CASE WHEN k >= 2 THEN 'd' || ((n * 7 + k % 2) % {recipients}) || '@t' || ((n + 1) % {tenants})
               || '.mssante.fr' ELSE '' END,
           CASE WHEN k >= 2 THEN 2 ELSE 0 END, '250 2.0.0 Ok',
           'u' || (n % {senders}) || '@t' || (n % {tenants}) || '.mssante.fr',
           CASE WHEN k = 1 AND n % 3 = 0 THEN md5('p' || (n % {patients})) ELSE '' END
       FROM generate_series({first}, {last}) n, generate_series(0, 9) k""",
]


async def fill(pool: asyncpg.Pool, messages: int) -> float:
    """Load the store; seconds taken."""
    started = time.perf_counter()
    step = SPAN / messages
    await pool.execute(FILL[0])
    await pool.execute(FILL[1].format(tenants=TENANTS))
    month = END - SPAN
    while month <= END + timedelta(days=31):
        await pool.execute("SELECT audit_events_partition($1)", month)
        month += timedelta(days=28)
    chunk = 100_000
    for first in range(0, messages, chunk):
        values = {
            "start": f"'{(END - SPAN).isoformat()}'::timestamptz",
            "step": f"interval '{step.total_seconds()} seconds'",
            "first": first,
            "last": min(first + chunk, messages) - 1,
            "tenants": TENANTS,
            "senders": SENDERS,
            "recipients": RECIPIENTS,
            "patients": PATIENTS,
        }
        for sql in FILL[2:]:
            await pool.execute(sql.format(**values))
        log(f"  {min(first + chunk, messages)} messages, {time.perf_counter() - started:.0f} s")
    await pool.execute("ANALYZE")
    return time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def timed(rounds: int, run: Callable[[random.Random], Awaitable[Any]]) -> list[float]:
    chance = random.Random(7)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await run(chance)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def measure(url: str, messages: int, rounds: int) -> dict[str, Any]:
    await migrate(url)
    pool = await asyncpg.create_pool(url, min_size=2, max_size=4)
    assert pool is not None
    log(f"filling {messages} messages, {messages * 10} events")
    fill_s = await fill(pool, messages)
    admin = Viewer("admin", "ght_admin", "ght-bench", tuple(f"t{n}" for n in range(TENANTS)))
    auditor = Viewer("dpo", "auditor", "ght-bench", ("t3",))

    def message(chance: random.Random) -> str:
        return f"M{chance.randrange(messages):09d}"

    def day(chance: random.Random) -> datetime:
        return END - SPAN + timedelta(days=chance.randrange(360))

    async def find(viewer: Viewer, query: Query) -> None:
        async with reading(pool, viewer) as conn:
            await search(conn, query, viewer)

    async def reference(chance: random.Random) -> None:
        await pool.fetchrow("SELECT * FROM audit_messages WHERE message_id = $1", message(chance))

    async def show(chance: random.Random) -> None:
        async with reading(pool, admin) as conn:
            await timeline(conn, message(chance), admin)

    async def second_page(chance: random.Random) -> None:
        async with reading(pool, auditor) as conn:
            first = await search(conn, Query(), auditor)
            at, _, last = first["next"].partition("|")
            await search(conn, Query(before=(datetime.fromisoformat(at), last)), auditor)

    kinds: dict[str, Callable[[random.Random], Awaitable[Any]]] = {
        "reference (primary key)": reference,
        "latest page, auditor": lambda c: find(auditor, Query()),
        "latest page, GHT admin": lambda c: find(admin, Query()),
        "second page, auditor": second_page,
        "message id": lambda c: find(admin, Query(message_id=message(c))),
        "Message-ID header": lambda c: find(admin, Query(message_id=f"<{c.randrange(messages)}@bench>")),
        "sender": lambda c: find(
            admin, Query(sender=f"u{c.randrange(SENDERS)}@t{c.randrange(TENANTS)}.mssante.fr")
        ),
        "recipient": lambda c: find(
            admin, Query(recipient=f"d{c.randrange(RECIPIENTS)}@t{c.randrange(TENANTS)}.mssante.fr")
        ),
        "patient": lambda c: find(admin, Query(patient_hashes=[_md5(f"p{c.randrange(PATIENTS)}")])),
        "one day": lambda c: find(admin, Query(since=(d := day(c)), until=d + timedelta(days=1))),
        "bounced, one week": lambda c: find(
            admin, Query(status="BOUNCED", since=(d := day(c)), until=d + timedelta(days=7))
        ),
        "establishment, one month, auditor": lambda c: find(
            auditor, Query(tenant="t3", since=(d := day(c)), until=d + timedelta(days=30))
        ),
        "timeline": show,
    }
    figures: dict[str, Any] = {}
    everything: list[float] = []
    for name, run in kinds.items():
        times = await timed(rounds, run)
        figures[name] = {
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(percentile(times, 0.95), 1),
        }
        if not name.startswith("reference"):
            everything += times
        log(f"  {name}: p50 {figures[name]['p50_ms']} ms, p95 {figures[name]['p95_ms']} ms")
    events = await pool.fetchval("SELECT count(*) FROM audit_events")
    await pool.close()
    reference_p95 = figures["reference (primary key)"]["p95_ms"]
    p95 = percentile(everything, 0.95)
    return {
        "messages": messages,
        "events": events,
        "fill_s": round(fill_s),
        "kinds": figures,
        "p95_ms": round(p95, 1),
        "p95_ratio_to_reference": round(p95 / reference_p95, 1),
    }


def _md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode()).hexdigest()  # the fill's stand-in for the keyed hash


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/search.py")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mss-bench-search-") as folder:
        postgres = PostgresConfig(Path(folder) / "postgres", port=free_port())
        start_postgres(postgres)
        try:
            figures = asyncio.run(measure(postgres.url(), args.messages, args.rounds))
        finally:
            stop_postgres(postgres)
    print(
        f"audit search over {figures['messages']} messages / {figures['events']} events:"
        f" p95 {figures['p95_ms']} ms over every kind (x{figures['p95_ratio_to_reference']} the p95 of a"
        f" primary-key lookup); filled in {figures['fill_s']} s"
    )
    for name, kind in figures["kinds"].items():
        print(f"  {name:36} p50 {kind['p50_ms']:7.1f} ms   p95 {kind['p95_ms']:7.1f} ms")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
