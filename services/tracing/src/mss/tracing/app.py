"""The tracing service: stores every hop's audit events and serves the audit API and UI."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import asyncpg
import nats.errors
from mss.bus import streams, subjects
from mss.bus.codec import decode, encode
from mss.bus.service import BusService
from mss.bus.work import batch_consumer
from mss.core.passwords import Cost
from mss.core.throttle import FailureLimiter
from mss.db.pool import create_pool
from mss.tracing.accounts import Sessions
from mss.tracing.anchors import Anchors
from mss.tracing.api import AuditApi
from mss.tracing.chain import verify
from mss.tracing.export import Signer
from mss.tracing.retention import sweep
from mss.tracing.settings import TracingSettings
from mss.tracing.store import Partitions, record
from mss.v1 import AuditChainReport, AuditEvent, AuditVerifyReply, AuditVerifyRequest

log = logging.getLogger(__name__)


def build(settings: TracingSettings) -> BusService:
    """Wire the service: it owns the audit stream."""
    service = BusService("tracing", settings, owns=[streams.AUDIT, streams.AUDIT_ANCHORS])
    pools: list[asyncpg.Pool] = []
    sessions: list[Sessions] = []
    partitions = Partitions()
    anchors = Anchors(service)
    signer = Signer.load(settings.export_key_file) if settings.export_key_file else None

    def pool() -> asyncpg.Pool:
        return pools[0]

    async def open_pool() -> None:
        pools.append(await create_pool(settings))
        lifetime = timedelta(hours=settings.session_hours)
        sessions.append(Sessions(pools[0], lifetime, Cost(log2_n=settings.password_cost)))

    async def close_pool() -> None:
        for each in pools:
            await each.close()

    async def on_events(events: list[AuditEvent]) -> None:
        await record(pool(), events, partitions)

    async def on_verify(body: bytes, headers: dict[str, str]) -> bytes:
        request = decode(AuditVerifyRequest, body)
        verdicts = await verify(pool(), request.tenant_id or None, anchors)
        broken = [v.tenant_id for v in verdicts if v.problem]
        report = log.warning if broken else log.info
        report(
            "audit chains verified", extra={"actor": request.actor, "chains": len(verdicts), "broken": broken}
        )
        reports = [
            AuditChainReport(
                tenant_id=v.tenant_id, events=v.events, problem=v.problem, anchored_seq=v.anchored_seq
            )
            for v in verdicts
        ]
        return encode(AuditVerifyReply(chains=reports))

    async def anchor_forever() -> None:
        while True:
            try:
                await anchors.publish(pool())
            except (asyncpg.PostgresError, OSError, nats.errors.Error, TimeoutError) as exc:
                log.warning("chain heads not anchored", extra={"error": str(exc)})
            await asyncio.sleep(settings.anchor_interval)

    async def retain_forever() -> None:
        while True:
            try:
                for purge in await sweep(pool(), datetime.now(UTC), settings.unattributed_retention_months):
                    log.info("audit events purged", extra={"tenant": purge.tenant_id, "last": purge.last})
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("retention sweep failed", extra={"error": str(exc)})
            await asyncio.sleep(settings.retention_interval)

    service.startup.append(open_pool)
    service.shutdown.append(close_pool)
    window = settings.sign_in_failure_window
    failures = (
        FailureLimiter(settings.sign_in_max_failures, window),
        FailureLimiter(10 * settings.sign_in_max_failures, window),
    )
    patient_key = settings.patient_hash_key.get_secret_value().encode()
    api = AuditApi(pool, lambda: sessions[0], signer, patient_key, failures)
    api.mount(service.http)
    service.background.append(retain_forever)
    service.background.append(anchor_forever)
    service.respond(subjects.AUDIT_VERIFY, subjects.TRACING_QUEUE, on_verify, 2)
    batch_consumer(
        service, streams.TRACING, AuditEvent, on_events, batch=settings.batch, linger=settings.linger
    )
    return service
