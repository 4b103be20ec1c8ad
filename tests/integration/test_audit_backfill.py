"""Events recorded before the search tables existed get their rows from audit_search_backfill()
(migration 0017), so their timelines are found again, under row-level security."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from mss.testing.audit_site import seed

pytestmark = pytest.mark.integration

INSERT = """
INSERT INTO audit_events (event_id, message_id, code, service, at, tenant_id, recipient, status, reply,
    attempt, mail_from)
VALUES ($1, $2, $3, 'test', $4, $5, $6, $7, $8, $9, $10)
"""


async def test_old_events_are_found_again_once_backfilled(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        names = await seed(conn, secrets.token_hex(4))
        message, at = f"01OLD{secrets.token_hex(4).upper()}", datetime.now(UTC) - timedelta(days=3)
        sender, to_b = f"Praticien@{names['domain_a']}", f"accueil@{names['domain_b']}"
        await conn.execute("SELECT audit_events_partition($1)", at)
        rows = [  # accepted, routed to B, deferred twice, then delivered; no establishment on the first
            (200, "", "", 0, "250 2.0.0 queued", 0),
            (300, names["b"], to_b, 1, "", 0),
            (501, names["b"], to_b, 3, "451 4.4.1 try later", 1),
            (501, names["b"], to_b.upper(), 3, "451 4.4.1 try later", 2),
            (400, names["b"], to_b, 2, "", 3),
        ]
        for n, (code, tenant, recipient, status, reply, attempt) in enumerate(rows):
            await conn.execute(
                INSERT,
                f"{message}-{n}",
                message,
                code,
                at + timedelta(seconds=n),
                tenant,
                recipient,
                status,
                reply,
                attempt,
                sender,
            )
        await conn.execute(INSERT, f"{message}-signin", "", 104, at, names["a"], "", 0, "", 0, sender)

        async with conn.transaction():  # before: the reader sees nothing of it
            await conn.execute("SET LOCAL ROLE mss_audit_reader")
            await conn.execute("SELECT set_config('mss.tenants', $1::text[]::text, true)", [names["b"]])
            assert (
                await conn.fetchval("SELECT count(*) FROM audit_events WHERE message_id = $1", message) == 0
            )

        assert await conn.fetchval("SELECT audit_search_backfill()") >= 1
        found = await conn.fetchrow("SELECT * FROM audit_messages WHERE message_id = $1", message)
        assert (found["mail_from"], found["sender_tenant"]) == (sender.lower(), names["a"])
        assert found["tenants"] == sorted([names["a"], names["b"]])
        (recipient,) = await conn.fetch("SELECT * FROM audit_recipients WHERE message_id = $1", message)
        assert (recipient["recipient"], recipient["status"], recipient["attempts"]) == (to_b, 2, 3)
        assert await conn.fetchval("SELECT count(*) FROM audit_messages WHERE message_id = ''") == 0
        assert await conn.fetchval("SELECT audit_search_backfill()") == 0  # nothing left to add

        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE mss_audit_reader")
            await conn.execute("SELECT set_config('mss.tenants', $1::text[]::text, true)", [names["b"]])
            assert (
                await conn.fetchval("SELECT count(*) FROM audit_events WHERE message_id = $1", message) == 5
            )
    finally:
        await conn.close()
