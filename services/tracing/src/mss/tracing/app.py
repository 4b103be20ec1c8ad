"""The tracing service: stores every hop's audit events and serves message timelines."""

from __future__ import annotations

import asyncpg
from mss.bus import streams
from mss.bus.service import BusService
from mss.bus.work import batch_consumer
from mss.db.pool import create_pool
from mss.tracing.api import add_routes
from mss.tracing.settings import TracingSettings
from mss.tracing.store import record
from mss.v1 import AuditEvent


def build(settings: TracingSettings) -> BusService:
    """Wire the service: it owns the audit stream."""
    service = BusService("tracing", settings, owns=[streams.AUDIT])
    pools: list[asyncpg.Pool] = []

    def pool() -> asyncpg.Pool:
        return pools[0]

    async def open_pool() -> None:
        pools.append(await create_pool(settings))

    async def close_pool() -> None:
        for each in pools:
            await each.close()

    async def on_events(events: list[AuditEvent]) -> None:
        await record(pool(), events)

    service.startup.append(open_pool)
    service.shutdown.append(close_pool)
    add_routes(service.http, pool)
    batch_consumer(
        service, streams.TRACING, AuditEvent, on_events, batch=settings.batch, linger=settings.linger
    )
    return service
