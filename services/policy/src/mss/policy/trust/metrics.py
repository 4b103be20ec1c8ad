"""Prometheus metrics of the allowed-domain list (registered once per process)."""

from __future__ import annotations

import math
import time

from mss.policy.domain.trustlist import TrustList
from prometheus_client import Counter, Gauge

DOMAINS = Gauge("mss_policy_trust_list_domains", "Domains on the allowed-domain list in force")
AGE = Gauge(
    "mss_policy_trust_list_age_seconds",
    "Seconds since the DateDeGeneration of the allowed-domain list in force (NaN: undated or none)",
)
REJECTED = Counter(
    "mss_policy_trust_list_rejected",
    "Lists refused (malformed, wrong namespace, checksum mismatch, too large, older) or not fetched",
    ["origin"],
)
CHECKED = Gauge(
    "mss_policy_trust_list_checked_timestamp_seconds",
    "Unix time of the last successful check of the configured source (0: never)",
)

_generated = math.nan


def _age() -> float:
    return time.time() - _generated


AGE.set_function(_age)


def observe(trust: TrustList) -> None:
    """Record the list now in force."""
    global _generated
    moment = trust.generated()
    _generated = moment.timestamp() if moment is not None else math.nan
    DOMAINS.set(len(trust.domains))
