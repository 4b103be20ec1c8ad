"""Recipient verdicts at RCPT time (design brief §2: refuse early, never accept on doubt)."""

from __future__ import annotations

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

OUTSIDE = "Recipient domain is outside the MSSante trust space"


def refuse(code: int, enhanced: str, reason: str) -> RecipientCheckReply:
    """A refusal; 4xx codes make it temporary."""
    verdict = Verdict.VERDICT_TEMPFAIL if 400 <= code < 500 else Verdict.VERDICT_REFUSE
    return RecipientCheckReply(verdict=verdict, smtp_code=code, enhanced_code=enhanced, reason=reason)


def accept(route: Route) -> RecipientCheckReply:
    """An acceptance with the recipient's route."""
    return RecipientCheckReply(
        verdict=Verdict.VERDICT_ACCEPT,
        smtp_code=250,
        enhanced_code="2.1.5",
        reason="Recipient OK",
        route=route,
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
        return refuse(553, "5.1.3", "Malformed recipient address")
    if found.domain_hosted:
        if not found.mailbox_found:
            return refuse(550, "5.1.1", "No such mailbox here")
        if found.mailbox_status == MailboxStatus.MAILBOX_STATUS_SUSPENDED:
            if found.suspended_temporary:
                return refuse(450, "4.2.1", "Mailbox temporarily disabled, try again later")
            return refuse(550, "5.2.1", "Mailbox disabled")
        if found.mailbox_status != MailboxStatus.MAILBOX_STATUS_ACTIVE:  # deleted: as if unknown
            return refuse(550, "5.1.1", "No such mailbox here")
        if found.mailbox_type == MailboxType.MAILBOX_TYPE_APP:
            return refuse(550, "5.7.1", "Applicative mailboxes do not receive mail")
        if found.domain_mode == DomainMode.DOMAIN_MODE_PROXY:
            route = Route(
                kind=RouteKind.ROUTE_KIND_PROXY, tenant_id=found.tenant_id, next_hop=found.smarthost
            )
        else:
            route = Route(kind=RouteKind.ROUTE_KIND_LOCAL, tenant_id=found.tenant_id)
        return accept(route)
    if trust.allows(domain):
        if listener == Listener.LISTENER_PEER:
            return refuse(550, "5.7.1", "Relaying denied: recipient is not hosted here")
        return accept(Route(kind=RouteKind.ROUTE_KIND_PEER))
    return refuse(550, "5.7.1", OUTSIDE)


def apply_mixed_rule(verdict: RecipientCheckReply, rule: MixedRecipients.ValueType) -> RecipientCheckReply:
    """A recipient outside the trust space, sent by one of our establishments: unless that
    establishment chose to deliver to the valid recipients, the whole message will be refused at
    the end of DATA (product brief, point 6)."""
    if verdict.reason == OUTSIDE and rule != MixedRecipients.MIXED_RECIPIENTS_DELIVER_VALID:
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
