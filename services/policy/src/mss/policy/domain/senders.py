"""MAIL FROM checks for peer operators (R-TRUST-7): the sender's domain is listed, and the TLS
client certificate presented is one the list names for that domain."""

from __future__ import annotations

from collections.abc import Sequence

from mss.core import rules
from mss.core.rules import Rule
from mss.core.tls import DnMatch, dn_matches
from mss.policy.domain.refusal import refusal
from mss.policy.domain.trustlist import TrustList, canonical_domain
from mss.v1 import AddressLookupReply, MailboxStatus, MailboxType, PeerCertificate, SenderCheckReply, Verdict


def certificate_matches(listed_dn: str, certificate: PeerCertificate, match: DnMatch) -> bool:
    """True when ``certificate`` is the one a list entry names."""
    return dn_matches(listed_dn, certificate.subject_dn, certificate.common_name, match)


def refuse(rule: Rule, **values: object) -> SenderCheckReply:
    """A sender refused by ``rule``."""
    return refusal(SenderCheckReply, rule, **values)


def accept() -> SenderCheckReply:
    """A sender accepted."""
    return SenderCheckReply(
        verdict=Verdict.VERDICT_ACCEPT,
        smtp_code=250,
        enhanced_code="2.1.0",
        reason="Sender OK",
        rule="sender.accepted",
    )


def decide_peer_sender(
    mail_from: str, certificate: PeerCertificate | None, trust: TrustList, match: DnMatch
) -> SenderCheckReply:
    """The verdict on a peer operator's MAIL FROM."""
    if certificate is None or not certificate.subject_dn:
        return refuse(rules.SENDER_CERTIFICATE_REQUIRED)
    if not mail_from:  # null sender (DSN, MDN): any listed operator certificate will do
        candidates = [dn for dns in trust.domains.values() for dn in dns]
    else:
        domain = mail_from.rpartition("@")[2]
        if not domain or canonical_domain(domain) not in trust.domains:
            return refuse(rules.SENDER_OUTSIDE)
        candidates = list(trust.domains[canonical_domain(domain)])
    if not any(certificate_matches(dn, certificate, match) for dn in candidates):
        return refuse(rules.SENDER_CERTIFICATE_NOT_LISTED)
    return accept()


def decide_authenticated_sender(mail_from: str, senders: Sequence[str]) -> SenderCheckReply:
    """The verdict on a MAIL FROM at submission after SMTP AUTH (R-AUTH-5).

    The identity may send as the mailboxes the directory gave at authentication: its own and the
    organisational ones delegated to it. The null sender (an MDN, RFC 8098) is allowed: the audit
    trail names the identity.
    """
    if mail_from and mail_from.strip().lower() not in senders:
        return refuse(rules.SENDER_NOT_AUTHORISED, address=mail_from)
    return accept()


def decide_submission_sender(
    mail_from: str, certificate: PeerCertificate | None, found: AddressLookupReply | None
) -> SenderCheckReply:
    """The verdict on a MAIL FROM at submission without SMTP AUTH: a client certificate is needed.

    An applicative mailbox sends with the certificate registered for it (R-TLS-6); the mailbox must
    be active. Personal and organisational mailboxes authenticate with SMTP AUTH instead.
    """
    if certificate is None or not certificate.subject_dn:
        return refuse(rules.SENDER_AUTHENTICATION_REQUIRED)
    if found is None:
        return refuse(rules.DIRECTORY_UNAVAILABLE)
    denied = refuse(rules.SENDER_NOT_AUTHORISED, address=mail_from)
    if not found.mailbox_found or found.mailbox_type != MailboxType.MAILBOX_TYPE_APP:
        return denied
    if found.mailbox_status != MailboxStatus.MAILBOX_STATUS_ACTIVE or not found.certificate_dn:
        return denied
    if not dn_matches(found.certificate_dn, certificate.subject_dn, certificate.common_name, DnMatch.DN):
        return denied
    return accept()
