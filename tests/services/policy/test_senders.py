"""Peer senders: the certificate must be one the allowed-domain list names for the domain."""

from __future__ import annotations

import pytest
from mss.core.tls import DnMatch
from mss.policy.domain.senders import (
    certificate_matches,
    decide_authenticated_sender,
    decide_peer_sender,
    decide_submission_sender,
)
from mss.policy.domain.trustlist import TrustList
from mss.v1 import AddressLookupReply, MailboxStatus, MailboxType, PeerCertificate, Verdict

LISTED = "CN=smtp-1.autre-operateur.example,OU=00000000000002,O=AUTRE OPERATEUR,ST=Rhône (69),C=FR"
TRUST = TrustList(
    version="v1",
    generated_at="",
    domains={"autre-operateur.mssante.fr": (LISTED,), "other.mssante.fr": ("CN=smtp.other,O=OTHER,C=FR",)},
)


def cert(dn: str = LISTED, cn: str = "smtp-1.autre-operateur.example") -> PeerCertificate:
    return PeerCertificate(subject_dn=dn, common_name=cn, fingerprint_sha256="ab", tls_version="TLSv1.2")


def test_listed_certificate_for_its_domain_is_accepted() -> None:
    verdict = decide_peer_sender("dr@autre-operateur.mssante.fr", cert(), TRUST, DnMatch.DN)
    assert verdict.verdict == Verdict.VERDICT_ACCEPT


@pytest.mark.parametrize(
    ("mail_from", "certificate", "code", "enhanced", "rule"),
    [
        ("dr@other.mssante.fr", cert(), 550, "5.7.1", "sender.certificate-not-listed"),  # another domain's
        ("dr@gmail.com", cert(), 550, "5.7.1", "sender.outside"),
        (
            "dr@autre-operateur.mssante.fr",
            cert(LISTED.replace("OU=00000000000002", "OU=9")),
            550,
            "5.7.1",
            "sender.certificate-not-listed",
        ),
        ("dr@autre-operateur.mssante.fr", None, 530, "5.7.0", "sender.certificate-required"),
    ],
    ids=["other-domain", "outside", "dn-differs", "no-certificate"],
)
def test_refusals(
    mail_from: str, certificate: PeerCertificate | None, code: int, enhanced: str, rule: str
) -> None:
    verdict = decide_peer_sender(mail_from, certificate, TRUST, DnMatch.DN)
    assert (verdict.smtp_code, verdict.enhanced_code, verdict.rule) == (code, enhanced, rule)


def test_null_sender_needs_any_listed_certificate() -> None:
    assert decide_peer_sender("", cert(), TRUST, DnMatch.DN).verdict == Verdict.VERDICT_ACCEPT
    assert decide_peer_sender("", cert("CN=x,C=FR", "x"), TRUST, DnMatch.DN).verdict == Verdict.VERDICT_REFUSE


def test_dn_comparison_ignores_spacing_and_case_of_values_not_order_of_attributes() -> None:
    spaced = "CN=SMTP-1.autre-operateur.example, OU=00000000000002, O=Autre Operateur, ST=Rhône (69), C=FR"
    assert certificate_matches(LISTED, cert(spaced), DnMatch.DN)
    reordered = "C=FR,ST=Rhône (69),O=AUTRE OPERATEUR,OU=00000000000002,CN=smtp-1.autre-operateur.example"
    assert not certificate_matches(LISTED, cert(reordered), DnMatch.DN)


def test_cn_match_mode_compares_common_names_only() -> None:
    other_org = cert("CN=smtp-1.autre-operateur.example,O=ELSEWHERE,C=FR")
    assert not certificate_matches(LISTED, other_org, DnMatch.DN)
    assert certificate_matches(LISTED, other_org, DnMatch.CN)


APP_DN = "CN=dpi.chu-demo.example,OU=750000001,O=CHU DEMO,ST=Paris (75),C=FR"


def app_mailbox(**fields: object) -> AddressLookupReply:
    values: dict[str, object] = {
        "domain_hosted": True,
        "mailbox_found": True,
        "mailbox_type": MailboxType.MAILBOX_TYPE_APP,
        "mailbox_status": MailboxStatus.MAILBOX_STATUS_ACTIVE,
        "certificate_dn": APP_DN,
    }
    values.update(fields)
    return AddressLookupReply(**values)  # type: ignore[arg-type]


def test_applicative_mailbox_sends_with_its_certificate() -> None:
    verdict = decide_submission_sender(
        "dpi@chu-demo.mssante.fr", cert(APP_DN, "dpi.chu-demo.example"), app_mailbox()
    )
    assert verdict.verdict == Verdict.VERDICT_ACCEPT


@pytest.mark.parametrize(
    ("certificate", "found", "code"),
    [
        (cert(APP_DN, "dpi.chu-demo.example"), app_mailbox(certificate_dn=LISTED), 553),  # someone else's
        (cert(APP_DN, "dpi.chu-demo.example"), app_mailbox(mailbox_type=MailboxType.MAILBOX_TYPE_PER), 553),
        (
            cert(APP_DN, "dpi.chu-demo.example"),
            app_mailbox(mailbox_status=MailboxStatus.MAILBOX_STATUS_SUSPENDED),
            553,
        ),
        (cert(APP_DN, "dpi.chu-demo.example"), app_mailbox(mailbox_found=False), 553),
        (cert(APP_DN, "dpi.chu-demo.example"), None, 451),
        (None, app_mailbox(), 530),
    ],
    ids=[
        "other-certificate",
        "personal-mailbox",
        "suspended",
        "unknown",
        "directory-silent",
        "no-certificate",
    ],
)
def test_submission_refusals(
    certificate: PeerCertificate | None, found: AddressLookupReply | None, code: int
) -> None:
    assert decide_submission_sender("dpi@chu-demo.mssante.fr", certificate, found).smtp_code == code


SENDERS = ("jean.martin@chu-demo.mssante.fr", "cardiologie@chu-demo.mssante.fr")


@pytest.mark.parametrize(
    ("mail_from", "code"),
    [
        ("jean.martin@chu-demo.mssante.fr", 250),
        ("Cardiologie@CHU-Demo.mssante.fr", 250),  # a delegated mailbox, any case
        ("", 250),  # an MDN from the authenticated user
        ("claire.durand@ch-exemple.mssante.fr", 553),
        ("dpi@chu-demo.mssante.fr", 553),
        ("jean.martin@chu-demo.mssante.fr.evil.example", 553),
    ],
)
def test_an_authenticated_identity_sends_as_its_own_and_delegated_mailboxes_only(
    mail_from: str, code: int
) -> None:
    verdict = decide_authenticated_sender(mail_from, SENDERS)
    assert verdict.smtp_code == code
    if code == 553:
        assert (verdict.verdict, verdict.enhanced_code) == (Verdict.VERDICT_REFUSE, "5.7.1")
        assert mail_from in verdict.reason
