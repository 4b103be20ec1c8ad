"""The tracing service: stores every hop's audit events and serves the audit API and UI."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import asyncpg
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
    anchors: list[Anchors] = []
    signer = Signer.load(settings.export_key_file) if settings.export_key_file else None

    def pool() -> asyncpg.Pool:
        return pools[0]

    async def open_pool() -> None:
        pools.append(await create_pool(settings))
        anchors.append(Anchors(service.js, settings.request_timeout))
        lifetime = timedelta(hours=settings.session_hours)
        sessions.append(Sessions(pools[0], lifetime, Cost(log2_n=settings.password_cost)))

    async def close_pool() -> None:
        for each in pools:
            await each.close()

    async def on_events(events: list[AuditEvent]) -> None:
        await record(pool(), events, partitions)

    async def on_verify(body: bytes, headers: dict[str, str]) -> bytes:
        request = decode(AuditVerifyRequest, body)
        stale = timedelta(seconds=3 * settings.anchor_interval + 60)
        verdicts = await verify(pool(), request.tenant_id or None, anchors[0], stale)
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

    async def anchor() -> None:
        await anchors[0].publish(pool())

    async def retain() -> None:
        now, months = datetime.now(UTC), settings.unattributed_retention_months
        for purge in await sweep(pool(), now, months, anchors[0].purged):
            log.info("audit events purged", extra={"tenant": purge.tenant_id, "last": purge.last})

    service.startup.append(open_pool)
    service.shutdown.append(close_pool)
    window = settings.sign_in_failure_window
    failures = (
        FailureLimiter(settings.sign_in_max_failures, window),
        FailureLimiter(10 * settings.sign_in_max_failures, window),
    )
    patient_key = settings.patient_hash_key.get_secret_value().encode()
    api = AuditApi(pool, lambda: sessions[0], signer, patient_key, failures, settings.trusted_proxies)
    api.mount(service.http)
    service.every(settings.retention_interval, retain)
    service.every(settings.anchor_interval, anchor)
    service.respond(subjects.AUDIT_VERIFY, subjects.TRACING_QUEUE, on_verify, 2)
    batch_consumer(
        service, streams.TRACING, AuditEvent, on_events, batch=settings.batch, linger=settings.linger
    )
    return service
