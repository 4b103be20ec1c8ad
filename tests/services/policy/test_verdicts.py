"""RCPT verdicts from the directory's answer and the allowed-domain list."""

from __future__ import annotations

import pytest
from mss.core import rules
from mss.policy.domain.trustlist import TrustList
from mss.policy.domain.verdicts import (
    accept,
    apply_mixed_rule,
    decide_quota,
    decide_recipient,
    recipient_limit,
    refuse,
)
from mss.v1 import (
    AddressLookupReply,
    DomainMode,
    Listener,
    MailboxStatus,
    MailboxType,
    MixedRecipients,
    Route,
    RouteKind,
    Verdict,
)

TRUST = TrustList(version="v1", generated_at="", domains={"autre-operateur.mssante.fr": ("CN=x",)})


def hosted(mode: DomainMode.ValueType = DomainMode.DOMAIN_MODE_SAAS, **fields: object) -> AddressLookupReply:
    return AddressLookupReply(domain_hosted=True, tenant_id="t1", domain_mode=mode, **fields)  # type: ignore[arg-type]


def mailbox(
    kind: MailboxType.ValueType = MailboxType.MAILBOX_TYPE_PER,
    status: MailboxStatus.ValueType = MailboxStatus.MAILBOX_STATUS_ACTIVE,
    mode: DomainMode.ValueType = DomainMode.DOMAIN_MODE_SAAS,
) -> AddressLookupReply:
    return hosted(mode, mailbox_found=True, mailbox_type=kind, mailbox_status=status, smarthost="10.0.0.1:25")


def suspended_for_a_while() -> AddressLookupReply:
    """A suspended mailbox of an establishment that refuses its mail temporarily."""
    found = mailbox(status=MailboxStatus.MAILBOX_STATUS_SUSPENDED)
    found.suspended_temporary = True
    return found


@pytest.mark.parametrize(
    ("address", "found", "code", "enhanced", "rule"),
    [
        ("nobody@chu.mssante.fr", hosted(), 550, "5.1.1", "recipient.unknown"),
        ("x@gmail.com", AddressLookupReply(), 550, "5.7.1", "recipient.outside"),
        ("dpi@chu.mssante.fr", mailbox(MailboxType.MAILBOX_TYPE_APP), 550, "5.7.1", "recipient.applicative"),
        (
            "old@chu.mssante.fr",
            mailbox(status=MailboxStatus.MAILBOX_STATUS_SUSPENDED),
            550,
            "5.2.1",
            "recipient.suspended",
        ),
        (
            "old@chu.mssante.fr",
            mailbox(status=MailboxStatus.MAILBOX_STATUS_DELETED),
            550,
            "5.1.1",
            "recipient.unknown",
        ),
        ("away@chu.mssante.fr", suspended_for_a_while(), 450, "4.2.1", "recipient.suspended-temporary"),
        ("no-at-sign", AddressLookupReply(), 553, "5.1.3", "recipient.malformed"),
    ],
)
def test_refusals(address: str, found: AddressLookupReply, code: int, enhanced: str, rule: str) -> None:
    verdict = decide_recipient(address, found, TRUST)
    kind = Verdict.VERDICT_TEMPFAIL if code < 500 else Verdict.VERDICT_REFUSE
    assert (verdict.verdict, verdict.smtp_code, verdict.enhanced_code) == (kind, code, enhanced)
    assert verdict.rule == rule


def test_saas_mailbox_routes_to_storage() -> None:
    verdict = decide_recipient("jean@chu.mssante.fr", mailbox(), TRUST)
    assert verdict.verdict == Verdict.VERDICT_ACCEPT
    assert (verdict.route.kind, verdict.route.tenant_id) == (RouteKind.ROUTE_KIND_LOCAL, "t1")


def test_proxy_mailbox_routes_to_the_smarthost() -> None:
    verdict = decide_recipient("jean@ch.mssante.fr", mailbox(mode=DomainMode.DOMAIN_MODE_PROXY), TRUST)
    assert (verdict.route.kind, verdict.route.next_hop) == (RouteKind.ROUTE_KIND_PROXY, "10.0.0.1:25")


def test_listed_peer_domain_routes_to_egress() -> None:
    verdict = decide_recipient("dr@Autre-Operateur.mssante.fr", AddressLookupReply(), TRUST)
    assert (verdict.verdict, verdict.route.kind) == (Verdict.VERDICT_ACCEPT, RouteKind.ROUTE_KIND_PEER)


def test_peer_operators_cannot_relay_to_another_operator() -> None:
    verdict = decide_recipient(
        "dr@autre-operateur.mssante.fr", AddressLookupReply(), TRUST, Listener.LISTENER_PEER
    )
    assert (verdict.verdict, verdict.smtp_code, verdict.enhanced_code) == (
        Verdict.VERDICT_REFUSE,
        550,
        "5.7.1",
    )


def test_peer_operators_reach_our_mailboxes() -> None:
    verdict = decide_recipient("jean@chu.mssante.fr", mailbox(), TRUST, Listener.LISTENER_PEER)
    assert verdict.verdict == Verdict.VERDICT_ACCEPT


@pytest.mark.parametrize(
    ("rule", "whole"),
    [
        (MixedRecipients.MIXED_RECIPIENTS_UNSPECIFIED, True),
        (MixedRecipients.MIXED_RECIPIENTS_REFUSE_WHOLE, True),
        (MixedRecipients.MIXED_RECIPIENTS_DELIVER_VALID, False),
    ],
)
def test_an_outside_recipient_makes_the_whole_message_refused_unless_the_establishment_says_otherwise(
    rule: int, whole: bool
) -> None:
    outside = apply_mixed_rule(refuse(rules.RECIPIENT_OUTSIDE), rule)
    assert outside.refuse_whole_message is whole
    unknown = apply_mixed_rule(refuse(rules.RECIPIENT_UNKNOWN), rule)
    assert unknown.refuse_whole_message is False  # an unknown mailbox of ours is refused alone


@pytest.mark.parametrize(
    ("address", "found", "limit"),
    [
        ("p@patient.mssante.fr", AddressLookupReply(), 25 * 1024 * 1024),
        ("p@Patient.MSSante.fr", AddressLookupReply(), 25 * 1024 * 1024),
        ("p@patient.mssante.fr", AddressLookupReply(domain_hosted=True, max_message_bytes=10_000), 10_000),
        ("dr@autre-operateur.mssante.fr", AddressLookupReply(), 0),
        ("dr@chu-demo.mssante.fr", AddressLookupReply(domain_hosted=True, max_message_bytes=5_000), 5_000),
        ("dr@chu-demo.mssante.fr", AddressLookupReply(domain_hosted=False, max_message_bytes=5_000), 0),
    ],
)
def test_a_recipients_limit_is_its_own_and_25_mb_toward_patients(
    address: str, found: AddressLookupReply, limit: int
) -> None:
    assert recipient_limit(address, found) == limit


@pytest.mark.parametrize(
    ("used", "verdict", "free"),
    [
        (0, Verdict.VERDICT_ACCEPT, 1000),
        (999, Verdict.VERDICT_ACCEPT, 1),
        (1000, Verdict.VERDICT_TEMPFAIL, 0),
        (1500, Verdict.VERDICT_TEMPFAIL, 0),  # over already (deliveries accepted before it filled)
    ],
)
def test_a_full_mailbox_is_refused_for_now_and_a_partly_free_one_carries_its_free_space(
    used: int, verdict: int, free: int
) -> None:
    decided = decide_quota("jean@chu.mssante.fr", 1000, used, accept(Route(kind=RouteKind.ROUTE_KIND_LOCAL)))
    assert decided.verdict == verdict
    if verdict == Verdict.VERDICT_ACCEPT:
        assert (decided.quota_bytes, decided.quota_free_bytes) == (1000, free)
    else:
        assert (decided.smtp_code, decided.enhanced_code, decided.rule) == (
            452,
            "4.2.2",
            "recipient.quota-full",
        )
        assert "<jean@chu.mssante.fr>" in decided.reason
