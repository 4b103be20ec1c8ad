"""The policy service: RCPT-time verdicts and routing of accepted messages."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mss.bus import streams, subjects
from mss.bus.service import BusService
from mss.bus.work import work_consumer
from mss.policy.content import ContentInspector
from mss.policy.domain.cache import TtlCache
from mss.policy.domain.rates import RateLimiter
from mss.policy.operators import OperatorLookup
from mss.policy.rcpt import RecipientChecker
from mss.policy.router import Router
from mss.policy.sender import SenderChecker
from mss.policy.settings import PolicySettings
from mss.policy.trust.holder import TrustHolder
from mss.policy.trust.loader import SourceConfig
from mss.policy.trust.sync import TrustSync
from mss.v1 import AddressLookupReply, MessageReceived

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    """The wired service and its allowed-domain list machinery (tests reach the list through it)."""

    service: BusService
    trust: TrustHolder
    sync: TrustSync


def build(settings: PolicySettings) -> BusService:
    """Wire the service."""
    return wire(settings).service


def wire(settings: PolicySettings) -> Policy:
    """Wire the service; the allowed-domain list is installed at start-up (see mss.policy.trust)."""
    service = BusService("policy", settings, needs=[streams.WORK, streams.AUDIT])
    holder = TrustHolder()
    sync = TrustSync(
        holder,
        SourceConfig.from_settings(settings),
        settings.trust_list_refresh,
        lambda: service.broker.connection,
        service.auditor,
    )
    service.startup.append(sync.start)
    service.background.append(sync.refresh_loop)
    service.stopping.append(sync.stop)
    service.readiness.checks.append(("trust-list", lambda: holder.loaded))
    cache: TtlCache[AddressLookupReply] = TtlCache(
        settings.directory_cache_ttl, settings.directory_cache_size
    )
    version = settings.version()
    checker = RecipientChecker(
        service, holder, settings.directory_timeout, cache, version, settings.storage_timeout
    )
    senders = SenderChecker(
        service,
        lambda: checker.trust,
        settings.dn_match,
        checker.ask_directory,
        RateLimiter(settings.rate_per_sender, settings.rate_period),
        RateLimiter(settings.rate_per_peer, settings.rate_period),
        version,
    )
    operators = OperatorLookup(lambda: checker.trust)
    content = ContentInspector(
        service,
        settings.patient_hash_key.get_secret_value().encode(),
        version,
        lambda: checker.trust,
        settings.dn_match,
    )
    for subject, handler in (
        (subjects.RCPT_CHECK, checker.on_request),
        (subjects.SENDER_CHECK, senders.on_request),
        (subjects.OPERATOR_LOOKUP, operators.on_request),
        (subjects.CONTENT_CHECK, content.on_check),
    ):
        service.respond(subject, subjects.POLICY_QUEUE, handler, settings.request_workers)
    work_consumer(
        service,
        streams.ROUTER,
        MessageReceived,
        Router(service, content, checker.ask_directory).on_received,
        workers=settings.route_batch,
    )
    return Policy(service, holder, sync)
