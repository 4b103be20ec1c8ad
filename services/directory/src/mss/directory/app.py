"""The directory service: answers address lookups over NATS request/reply."""

from __future__ import annotations

import asyncpg
from faststream.nats import NatsMessage
from mss.bus import subjects
from mss.bus.codec import decode, encode
from mss.bus.service import BusService
from mss.db.pool import create_pool
from mss.directory.lookup import lookup
from mss.directory.settings import DirectorySettings
from mss.v1 import AddressLookupRequest


def build(settings: DirectorySettings) -> BusService:
    """Wire the service: its broker, subscribers and database pool."""
    service = BusService("directory", settings)
    pools: list[asyncpg.Pool] = []

    @service.broker.subscriber(
        subjects.DIRECTORY_LOOKUP, queue=subjects.DIRECTORY_QUEUE, max_workers=settings.request_workers
    )
    async def on_lookup(body: bytes, msg: NatsMessage) -> bytes:
        request = decode(AddressLookupRequest, body)
        return encode(await lookup(pools[0], request.address))

    async def start() -> None:
        pools.append(await create_pool(settings))

    async def stop() -> None:
        for pool in pools:
            await pool.close()

    service.startup.append(start)
    service.shutdown.append(stop)
    return service
