"""The tracing service: stores every hop's audit events and serves message timelines."""

from __future__ import annotations

import logging

import asyncpg
from mss.bus import streams, subjects
from mss.bus.codec import decode, encode
from mss.bus.service import BusService
from mss.bus.work import batch_consumer
from mss.db.pool import create_pool
from mss.tracing.api import add_routes
from mss.tracing.chain import verify
from mss.tracing.settings import TracingSettings
from mss.tracing.store import record
from mss.v1 import AuditChainReport, AuditEvent, AuditVerifyReply, AuditVerifyRequest

log = logging.getLogger(__name__)


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

    async def on_verify(body: bytes, headers: dict[str, str]) -> bytes:
        request = decode(AuditVerifyRequest, body)
        verdicts = await verify(pool(), request.tenant_id or None)
        broken = [v.tenant_id for v in verdicts if v.problem]
        report = log.warning if broken else log.info
        report(
            "audit chains verified", extra={"actor": request.actor, "chains": len(verdicts), "broken": broken}
        )
        reports = [
            AuditChainReport(tenant_id=v.tenant_id, events=v.events, problem=v.problem) for v in verdicts
        ]
        return encode(AuditVerifyReply(chains=reports))

    service.startup.append(open_pool)
    service.shutdown.append(close_pool)
    add_routes(service.http, pool)
    service.respond(subjects.AUDIT_VERIFY, subjects.TRACING_QUEUE, on_verify, 2)
    batch_consumer(
        service, streams.TRACING, AuditEvent, on_events, batch=settings.batch, linger=settings.linger
    )
    return service
