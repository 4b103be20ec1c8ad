"""The policy service: RCPT-time verdicts and routing of accepted messages."""

from __future__ import annotations

import logging

from mss.bus import streams, subjects
from mss.bus.service import BusService
from mss.bus.work import work_consumer
from mss.core.errors import ConfigError
from mss.policy.domain.cache import TtlCache
from mss.policy.domain.trustlist import TrustList, parse_trust_list
from mss.policy.rcpt import RecipientChecker
from mss.policy.router import Router
from mss.policy.settings import PolicySettings
from mss.v1 import AddressLookupReply, MessageReceived

log = logging.getLogger(__name__)


def load_trust_list(settings: PolicySettings) -> TrustList:
    """Load the configured allowed-domain list or fail start-up with a clear error."""
    try:
        data = settings.trust_list_path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the allowed-domain list {settings.trust_list_path}: {exc}") from exc
    trust = parse_trust_list(data)
    for warning in trust.warnings:
        log.warning("allowed-domain list repaired", extra={"repair": warning, "version": trust.version})
    log.info("allowed-domain list loaded", extra={"version": trust.version, "domains": len(trust.domains)})
    return trust


def build(settings: PolicySettings) -> BusService:
    """Wire the service."""
    service = BusService("policy", settings, needs=[streams.WORK, streams.AUDIT])
    cache: TtlCache[AddressLookupReply] = TtlCache(
        settings.directory_cache_ttl, settings.directory_cache_size
    )
    checker = RecipientChecker(service, load_trust_list(settings), settings.directory_timeout, cache)
    service.broker.subscriber(
        subjects.RCPT_CHECK, queue=subjects.POLICY_QUEUE, max_workers=settings.request_workers
    )(checker.on_request)
    work_consumer(
        service, streams.ROUTER, MessageReceived, Router(service).on_received, workers=settings.route_batch
    )
    return service
