"""Recipient verdicts at RCPT time (design brief §2: refuse early, never accept on doubt)."""

from __future__ import annotations

from mss.core import rules
from mss.core.rules import Rule
from mss.policy.domain.refusal import refusal
from mss.policy.domain.trustlist import TrustList
from mss.v1 import (
    AddressLookupReply,
    DomainMode,
    Listener,
    MailboxStatus,
    MailboxType,
    MixedRecipients,
    RecipientCheckReply,
    Route,
    RouteKind,
    Verdict,
)


def refuse(rule: Rule, **values: object) -> RecipientCheckReply:
    """A recipient refused by ``rule``."""
    return refusal(RecipientCheckReply, rule, **values)


def accept(route: Route) -> RecipientCheckReply:
    """An acceptance with the recipient's route."""
    return RecipientCheckReply(
        verdict=Verdict.VERDICT_ACCEPT,
        smtp_code=250,
        enhanced_code="2.1.5",
        reason="Recipient OK",
        route=route,
        rule="recipient.accepted",
    )


def domain_of(address: str) -> str | None:
    """The domain of ``local@domain``, or None when malformed."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    return domain.lower() if at and local and domain else None


def decide_recipient(
    address: str,
    found: AddressLookupReply,
    trust: TrustList,
    listener: Listener.ValueType = Listener.LISTENER_UNSPECIFIED,
) -> RecipientCheckReply:
    """The verdict for one recipient, given the directory's answer and the allowed-domain list.

    Mail from another operator (peer listener) may only be addressed to our own domains: we are
    never a relay between two other operators.
    """
    domain = domain_of(address)
    if domain is None:
        return refuse(rules.RECIPIENT_MALFORMED)
    if found.domain_hosted:
        if not found.mailbox_found:
            return refuse(rules.RECIPIENT_UNKNOWN)
        if found.mailbox_status == MailboxStatus.MAILBOX_STATUS_SUSPENDED:
            if found.suspended_temporary:
                return refuse(rules.RECIPIENT_SUSPENDED_TEMPORARY)
            return refuse(rules.RECIPIENT_SUSPENDED)
        if found.mailbox_status != MailboxStatus.MAILBOX_STATUS_ACTIVE:  # deleted: as if unknown
            return refuse(rules.RECIPIENT_UNKNOWN)
        if found.mailbox_type == MailboxType.MAILBOX_TYPE_APP:
            return refuse(rules.RECIPIENT_APPLICATIVE)
        if found.domain_mode == DomainMode.DOMAIN_MODE_PROXY:
            route = Route(
                kind=RouteKind.ROUTE_KIND_PROXY,
                tenant_id=found.tenant_id,
                next_hop=found.smarthost,
                smarthost_tls=found.smarthost_tls,
            )
        else:
            route = Route(kind=RouteKind.ROUTE_KIND_LOCAL, tenant_id=found.tenant_id)
        return accept(route)
    if trust.allows(domain):
        if listener == Listener.LISTENER_PEER:
            return refuse(rules.RECIPIENT_RELAY)
        return accept(Route(kind=RouteKind.ROUTE_KIND_PEER))
    return refuse(rules.RECIPIENT_OUTSIDE)


def apply_mixed_rule(verdict: RecipientCheckReply, rule: MixedRecipients.ValueType) -> RecipientCheckReply:
    """A recipient outside the trust space, sent by one of our establishments: unless that
    establishment chose to deliver to the valid recipients, the whole message will be refused at
    the end of DATA (product brief, point 6)."""
    if verdict.rule == rules.RECIPIENT_OUTSIDE.id and rule != MixedRecipients.MIXED_RECIPIENTS_DELIVER_VALID:
        verdict.refuse_whole_message = True
    return verdict


PATIENT_DOMAIN = "patient.mssante.fr"
PATIENT_MAX_BYTES = 25 * 1024 * 1024
"""R-MSG-5: the patients' messaging takes messages of 25 MB at most."""


def recipient_limit(address: str, found: AddressLookupReply) -> int:
    """Largest message for this recipient, bytes (0: none of its own)."""
    limit = found.max_message_bytes if found.domain_hosted else 0
    if domain_of(address) == PATIENT_DOMAIN:
        limit = min(limit, PATIENT_MAX_BYTES) if limit else PATIENT_MAX_BYTES
    return limit


def decide_quota(address: str, quota: int, used: int, verdict: RecipientCheckReply) -> RecipientCheckReply:
    """A hosted mailbox with ``quota`` bytes of which ``used`` are taken: full → 452 4.2.2 (the
    sender retries; it may have room by then); otherwise the verdict carries the free space."""
    free = quota - used
    if free <= 0:
        return refuse(rules.RECIPIENT_QUOTA_FULL, address=address)
    verdict.quota_bytes, verdict.quota_free_bytes = quota, free
    return verdict
