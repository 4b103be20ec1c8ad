"""A hosted mailbox's usage follows what it stores, exactly: a redelivered message counts once, a
removed one no longer counts."""

from __future__ import annotations

import asyncpg
import pytest
from mss.directory.seed import apply_seed, load_seed
from mss.storage.mailbox import store, usage
from mss.testing.fixtures import DEMO

pytestmark = pytest.mark.integration

JEAN = "jean.martin@chu-demo.mssante.fr"


async def test_usage_counts_each_stored_message_once(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await apply_seed(conn, load_seed(DEMO / "seed.yaml"))
        before = await usage(pool, JEAN)
        fields = {"mailbox": JEAN, "tenant_id": "chu-demo", "mail_from": "a@b.fr", "sha256": "x"}
        assert await store(pool, message_id="01USAGE1", content=b"a" * 100, **fields)
        assert not await store(pool, message_id="01USAGE1", content=b"a" * 100, **fields)  # redelivered
        assert await store(pool, message_id="01USAGE2", content=b"b" * 50, **fields)
        after = await usage(pool, JEAN.upper())
        assert (after.used_bytes - before.used_bytes, after.messages - before.messages) == (150, 2)
        await pool.execute("DELETE FROM stored_messages WHERE mailbox = $1 AND message_id = '01USAGE1'", JEAN)
        removed = await usage(pool, JEAN)
        assert (removed.used_bytes - before.used_bytes, removed.messages - before.messages) == (50, 1)
        assert (await usage(pool, "nobody@chu-demo.mssante.fr")).used_bytes == 0
    finally:
        await pool.close()
