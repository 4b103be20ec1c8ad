"""The directory service: address lookups and submission authentication over NATS request/reply, and the
admin REST API on its HTTP port."""

from __future__ import annotations

import logging

import asyncpg
from mss.bus import streams, subjects
from mss.bus.codec import decode, encode
from mss.bus.headers import trace_headers
from mss.bus.service import BusService
from mss.bus.work import batch_consumer
from mss.core.errors import UnavailableError
from mss.core.passwords import Cost
from mss.core.sessions import SessionSigner
from mss.core.throttle import FailureLimiter
from mss.db.pool import create_pool
from mss.directory import correspondents
from mss.directory.admin.api import AdminApi
from mss.directory.auth.authenticate import Authenticator, mailboxes_of
from mss.directory.auth.introspection import Introspector
from mss.directory.registry import Registry
from mss.directory.resolve import Resolver
from mss.directory.settings import DirectorySettings
from mss.v1 import (
    AddressLookupRequest,
    AuditEvent,
    AuthenticateReply,
    AuthenticateRequest,
    AuthOutcome,
    MailboxesReply,
    MailboxesRequest,
    OperatorLookupReply,
    OperatorLookupRequest,
    ResolveRequest,
    SearchRequest,
)

log = logging.getLogger(__name__)


def introspector(settings: DirectorySettings) -> Introspector | None:
    """The PSC token checker, when an endpoint is configured."""
    if not settings.introspection_url:
        return None
    return Introspector(
        settings.introspection_url,
        settings.introspection_client_id,
        settings.introspection_client_secret.get_secret_value(),
        ca_file=settings.introspection_ca_file,
        issuer=settings.introspection_issuer,
        audiences=tuple(settings.introspection_audiences),
        scopes=tuple(settings.introspection_scopes),
        timeout=settings.introspection_timeout,
    )


def build(settings: DirectorySettings) -> BusService:
    """Wire the service: its broker, subscribers and database pool."""
    service = BusService("directory", settings, needs=[streams.AUDIT])
    pools: list[asyncpg.Pool] = []
    authenticators: list[Authenticator] = []
    registries: list[Registry] = []
    resolvers: list[Resolver] = []
    psc = introspector(settings)
    limiter = FailureLimiter(settings.auth_max_failures, settings.auth_failure_window)
    sessions = (
        SessionSigner.from_file(settings.session_key_file, settings.session_lifetime)
        if settings.session_key_file is not None
        else None
    )
    if sessions is None:
        log.warning("no session key: sign-ins get no session, and storage's mailbox API refuses everyone")

    async def on_lookup(body: bytes, headers: dict[str, str]) -> bytes:
        return encode(registries[0].lookup(decode(AddressLookupRequest, body).address))

    async def on_authenticate(body: bytes, headers: dict[str, str]) -> bytes:
        request = decode(AuthenticateRequest, body)
        trace_id, _ = trace_headers(headers)
        try:
            reply = await authenticators[0].authenticate(request, trace_id)
        except (UnavailableError, asyncpg.PostgresError, OSError) as exc:
            log.error("authentication not decided", extra={"error": str(exc)})
            reply = AuthenticateReply(
                outcome=AuthOutcome.AUTH_OUTCOME_TEMPFAIL, reason="directory unavailable"
            )
        return encode(reply)

    async def ask_policy(domain: str) -> OperatorLookupReply | None:
        return await service.ask(
            subjects.OPERATOR_LOOKUP,
            OperatorLookupRequest(domain=domain),
            OperatorLookupReply,
            settings.request_timeout,
        )

    async def on_resolve(body: bytes, headers: dict[str, str]) -> bytes:
        return encode(await resolvers[0].resolve(decode(ResolveRequest, body).address))

    async def on_mailboxes(body: bytes, headers: dict[str, str]) -> bytes:
        identity = decode(MailboxesRequest, body).identity
        return encode(MailboxesReply(mailboxes=await mailboxes_of(pools[0], identity)))

    async def on_search(body: bytes, headers: dict[str, str]) -> bytes:
        request = decode(SearchRequest, body)
        return encode(await resolvers[0].search(request.query, request.limit))

    for subject, handler in (
        (subjects.DIRECTORY_LOOKUP, on_lookup),
        (subjects.AUTHENTICATE, on_authenticate),
        (subjects.RESOLVE, on_resolve),
        (subjects.SEARCH, on_search),
        (subjects.MAILBOXES, on_mailboxes),
    ):
        service.respond(subject, subjects.DIRECTORY_QUEUE, handler, settings.request_workers)
    admins = {name: token.get_secret_value() for name, token in settings.admin_tokens.items()}
    AdminApi(
        lambda: pools[0],
        admins,
        service.auditor,
        lambda: registries[0].refresh(),
        settings.admin_token_tenants,
    ).mount(service.http)

    async def start() -> None:
        pool = await create_pool(settings)
        pools.append(pool)
        registry = Registry(pool, settings.registry_refresh)
        await registry.refresh()
        registries.append(registry)
        resolvers.append(Resolver(pool, registry, ask_policy))
        cost = Cost(log2_n=settings.password_cost)
        authenticators.append(
            Authenticator(pool, service.auditor, limiter, psc, cost, settings.hash_workers, sessions)
        )

    async def stop() -> None:
        if psc is not None:
            await psc.close()
        for pool in pools:
            await pool.close()

    async def on_events(events: list[AuditEvent]) -> None:
        await correspondents.record(pools[0], events, registries[0].tenants())

    async def follow_registry() -> None:
        await registries[0].refresh_forever()

    batch_consumer(service, streams.CORRESPONDENTS, AuditEvent, on_events)
    service.background.append(follow_registry)
    service.startup.append(start)
    service.shutdown.append(stop)
    return service
