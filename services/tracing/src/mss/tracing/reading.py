"""Reads on behalf of a viewer go through PostgreSQL row-level security: the transaction runs as
``mss_audit_reader`` with the viewer's establishments in ``mss.tenants`` (migration 0016), so a
query that forgot a filter still returns nothing of another establishment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from mss.db.pool import Conn
from mss.tracing.accounts import Viewer


@asynccontextmanager
async def reading(pool: asyncpg.Pool, viewer: Viewer) -> AsyncIterator[Conn]:
    """A read-only transaction that sees only ``viewer``'s establishments."""
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await conn.execute("SET LOCAL ROLE mss_audit_reader")
        await conn.execute("SELECT set_config('mss.tenants', $1::text[]::text, true)", list(viewer.tenants))
        yield conn
