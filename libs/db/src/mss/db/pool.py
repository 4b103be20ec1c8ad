"""Connection pools."""

from __future__ import annotations

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from mss.core.settings import DatabaseSettings

Conn = asyncpg.Connection | PoolConnectionProxy
"""A connection, or one borrowed from a pool."""


async def create_pool(settings: DatabaseSettings) -> asyncpg.Pool:
    """A pool for a service, sized by its settings."""
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=settings.database_pool_size)
    assert pool is not None
    return pool
