"""Hosted content is deleted at the end of its establishment's retention period, audited once per
message, and kept while the establishment is under legal hold."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import nats
import pytest
from mss.bus import subjects
from mss.bus.codec import decode
from mss.storage.app import build as build_storage
from mss.storage.mailbox import store, usage
from mss.storage.settings import StorageSettings
from mss.testing.audit_site import seed
from mss.testing.fixtures import RunningNats
from mss.testing.inprocess import running
from mss.v1 import AuditCode, AuditEvent

pytestmark = pytest.mark.integration


async def test_expired_messages_go_unless_held(
    nats_server: RunningNats, database_url: str, bus: nats.NATS
) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        async with pool.acquire() as conn:
            names = await seed(conn, secrets.token_hex(4))
        kept, held = f"praticien.essai@{names['domain_a']}", f"accueil@{names['domain_b']}"
        await pool.execute(
            "INSERT INTO mailboxes (address, tenant_id, domain, type) VALUES ($1, $2, $3, 'ORG')",
            held,
            names["b"],
            names["domain_b"],
        )
        await pool.execute(
            "UPDATE tenants SET content_retention_days = 30 WHERE id = ANY($1)", [names["a"], names["b"]]
        )
        await pool.execute("UPDATE tenants SET legal_hold = true WHERE id = $1", names["b"])
        for mailbox, tenant in ((kept, names["a"]), (held, names["b"])):
            for message_id in ("01OLD", "01OLD.sent", "01NEW"):
                fields = {"tenant_id": tenant, "mail_from": "a@b.fr", "sha256": "x", "content": b"x" * 10}
                assert await store(pool, mailbox=mailbox, message_id=message_id, **fields)
            await pool.execute(
                "UPDATE stored_messages SET stored_at = now() - interval '40 days'"
                " WHERE mailbox = $1 AND message_id LIKE '01OLD%'",
                mailbox,
            )
        expired: list[AuditEvent] = []

        async def collect(msg: nats.aio.msg.Msg) -> None:
            event = decode(AuditEvent, msg.data)
            if event.code == AuditCode.AUDIT_CODE_CONTENT_EXPIRED:
                expired.append(event)

        await bus.subscribe(subjects.audit("storage"), cb=collect)
        settings = StorageSettings(
            **nats_server.settings("storage"), database_url=database_url, http_port=0, retention_interval=0.05
        )
        async with running(build_storage(settings)):
            for _ in range(500):
                if len(expired) >= 2:
                    break
                await asyncio.sleep(0.02)
        left = await pool.fetch(
            "SELECT mailbox, message_id FROM stored_messages WHERE mailbox = ANY($1) ORDER BY 1, 2",
            [kept, held],
        )
        expected = [(held, "01NEW"), (held, "01OLD"), (held, "01OLD.sent"), (kept, "01NEW")]
        assert [(r["mailbox"], r["message_id"]) for r in left] == sorted(expected)
        assert sorted((e.event_id, e.message_id, e.recipient, e.reason) for e in expired) == [
            (f"expired:{kept}:01OLD", "01OLD", kept, "content retention of 30 days"),
            (f"expired:{kept}:01OLD.sent", "01OLD", kept, "content retention of 30 days"),
        ]
        assert (await usage(pool, kept)).messages == 1
    finally:
        await pool.close()
