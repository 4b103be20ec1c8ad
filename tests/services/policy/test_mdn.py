"""Disposition notifications read for the timeline: the original's Message-ID, who, what."""

from __future__ import annotations

from mss.core.tls import DnMatch
from mss.policy.domain.mdn import Disposition, from_recipients_side, read
from mss.policy.domain.trustlist import TrustList
from mss.v1 import MessageReceived, PeerCertificate

MDN = (
    b'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nAffiche.\r\n"
    b"--b\r\nContent-Type: message/disposition-notification\r\n\r\n"
    b"Reporting-UA: webmail\r\nFinal-Recipient: rfc822; Jean@chu.fr\r\n"
    b"Original-Message-ID: <cr-1@ch.fr>\r\nDisposition: automatic-action/MDN-sent-automatically;"
    b" processed/error\r\n\r\n--b--\r\n"
)


def test_a_notification_names_the_original_the_recipient_and_the_disposition() -> None:
    assert read(MDN) == Disposition(
        "<cr-1@ch.fr>", "Jean@chu.fr", "processed/error", "automatic-action/MDN-sent-automatically"
    )


def test_a_message_without_a_usable_notification_gives_nothing() -> None:
    assert read(b"Subject: x\r\n\r\nhello\r\n") is None
    assert read(MDN.replace(b"Original-Message-ID: <cr-1@ch.fr>\r\n", b"")) is None
    assert read(b"\xff\xfe garbage \x00") is None


PEER_DN = "CN=smtp.autre.example,O=AUTRE OPERATEUR,C=FR"
TRUST = TrustList(
    version="v1", generated_at="", domains={"autre.mssante.fr": (PEER_DN,), "chu.mssante.fr": ()}
)


def received(**fields: object) -> MessageReceived:
    return MessageReceived(message_id="01MDN", **fields)  # type: ignore[arg-type]


def test_a_notification_is_linked_only_when_it_comes_from_the_recipients_side() -> None:
    peer = PeerCertificate(subject_dn=PEER_DN, common_name="smtp.autre.example")
    stranger = PeerCertificate(subject_dn="CN=smtp.autre-encore.example,O=X,C=FR", common_name="x")
    jean, claire = "jean@chu.mssante.fr", "claire@autre.mssante.fr"
    linked = (
        (received(submitted=True, auth_identity=jean, auth_senders=[jean]), jean),  # Jean, signed in
        (received(submitted=True, auth_identity="RPPS 1", auth_senders=[jean]), "Jean@CHU.mssante.fr"),
        (received(peer_certificate=peer), claire),  # Claire's own operator
    )
    for event, recipient in linked:
        assert from_recipients_side(event, recipient, TRUST, DnMatch.DN) == "", (event, recipient)
    unlinked = (
        (received(submitted=True), jean, "a client that did not sign in"),
        (received(submitted=True, auth_identity=claire, auth_senders=[claire]), jean, "may not send as"),
        (received(peer_certificate=peer), jean, "not by the operator the list names"),  # Jean is ours
        (received(peer_certificate=stranger), claire, "not by the operator the list names"),
        (received(), claire, "no certificate"),
        (received(peer_certificate=peer), "", "no final recipient"),
    )
    for event, recipient, why in unlinked:
        assert why in from_recipients_side(event, recipient, TRUST, DnMatch.DN), (event, recipient)
