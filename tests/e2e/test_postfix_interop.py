"""A real Postfix as another operator of the trust space, over mutual TLS both ways.

The backbone here is a stack of its own: its allowed-domain list names the Postfix operator's domain
with that operator's certificate DN, and egress routes the domain to Postfix's peer listener. Postfix
(a private instance under the test's folder, see :mod:`mss.testing.postfix`) sends with its own
certificate from the same IGC-Santé-like PKI, verifies ours, and requires ours when we send to it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mss.bus import subjects
from mss.bus.codec import decode, encode
from mss.devstack.demo import IDENTITIES, OPERATOR_DN
from mss.devstack.layout import Layout
from mss.devstack.pki import Issued, LocalPki
from mss.devstack.ports import free_port
from mss.devstack.stack import Stack
from mss.testing import smtp
from mss.testing.fixtures import DEMO, demo_seed, permission_violations, signed_session
from mss.testing.postfix import PostfixPeer, Route, require_postfix
from mss.v1 import AuditCode, AuditEvent, MessageFetchReply, MessageFetchRequest

pytestmark = pytest.mark.e2e

DOMAIN = "operateur-postfix.mssante.fr"
HOSTNAME = "smtp-1.operateur-postfix.example"
POSTFIX_DN = f"CN={HOSTNAME},OU=00000000000003,O=OPERATEUR POSTFIX,ST=Gironde (33),C=FR"
IMPOSTOR_DN = POSTFIX_DN.replace("OU=00000000000003", "OU=99999999999999")
"""Same name, same CA, but not the DN the list gives for the domain."""
OUR_NAME = OPERATOR_DN.split(",", 1)[0].removeprefix("CN=")
DOCTOR = f"dr.dupont@{DOMAIN}"
SAAS = "jean.martin@chu-demo.mssante.fr"
APP = "dpi@chu-demo.mssante.fr"


@dataclass(frozen=True)
class TrustSpace:
    """The certificates and the allowed-domain list this module's backbone and Postfix share."""

    home: Path
    ca: Path
    postfix: Issued
    impostor: Issued
    trust_list: Path
    postfix_peer_port: int


def message(subject: str, sender: str, recipient: str) -> bytes:
    """A complete message (Postfix adds nothing to it), 8-bit body and dot-stuffed lines included."""
    return (
        f"From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: {subject}\r\n"
        f"Date: Mon, 02 Nov 2026 10:00:00 +0100\r\nMessage-ID: <{subject}@interop.test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "Bonjour, voici le compte rendu de Mme Hélène Dupont.\r\n"
        ".une ligne commençant par un point\r\n..et deux\r\n\r\nCordialement.\r\n"
    ).encode()


def allowed_domain_list(path: Path) -> Path:
    """The demo list plus the Postfix operator's domain and certificate DN."""
    entry = (
        "<Domaine>\n"
        f"      <Nom>{DOMAIN}</Nom>\n"
        "      <Description>Opérateur sous Postfix</Description>\n"
        f"      <DNCertificatOperateur>{POSTFIX_DN}</DNCertificatOperateur>\n"
        "      <ResponsableContact>responsable@operateur-postfix.example</ResponsableContact>\n"
        "      <SupportContact>support@operateur-postfix.example</SupportContact>\n"
        "      <DateMAJ>2026-11-01T00:00:00Z</DateMAJ>\n"
        "    </Domaine>\n  "
    )
    head, end, tail = (
        (DEMO / "listeblanchemssante.xml").read_text(encoding="utf-8").partition("</ListeDomaines>")
    )
    assert end, "the demo list has no </ListeDomaines>"
    path.write_text(head + entry + end + tail, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def space(tmp_path_factory: pytest.TempPathFactory) -> TrustSpace:
    """One PKI for the backbone (its demo identities) and the Postfix operator (two of its own)."""
    require_postfix()  # before starting a whole backbone for nothing
    home = tmp_path_factory.mktemp("mss-postfix")
    pki = LocalPki(home / "pki", "DEMO")  # the stack keeps a demo PKI it finds complete in its folder
    for name, dn in IDENTITIES.items():
        pki.issue(name, dn)
    return TrustSpace(
        home=home,
        ca=pki.ca_bundle_path,
        postfix=pki.issue("postfix", POSTFIX_DN),
        impostor=pki.issue("impostor", IMPOSTOR_DN),
        trust_list=allowed_domain_list(home / "listeblanchemssante.xml"),
        postfix_peer_port=free_port(),
    )


@pytest.fixture(scope="module")
def backbone(space: TrustSpace) -> Iterator[Stack]:
    """This module's backbone (the e2e ``audit`` and ``bus`` fixtures use it): Postfix is a peer."""
    layout = dataclasses.replace(
        Layout.free(space.home, space.trust_list),
        peer_domain=DOMAIN,
        peer_operator=space.postfix_peer_port,
    )
    stack = Stack(layout, demo_seed(layout, space.home), demo_mail_servers=False, harness=True)
    try:
        stack.up()
        assert stack.pki is not None
        assert stack.pki.ca.read_bytes() == space.ca.read_bytes(), "the stack made a PKI of its own"
        yield stack
    finally:
        stack.down()
    assert not permission_violations(stack.nats), "\n".join(permission_violations(stack.nats))


def operator(folder: Path, space: TrustSpace, backbone: Stack, identity: Issued, **options) -> PostfixPeer:
    """A Postfix operator of ``DOMAIN`` sending chu-demo.mssante.fr mail to our peer listener."""
    route = Route("chu-demo.mssante.fr", "127.0.0.1", backbone.layout.peer_smtp, OUR_NAME)
    return PostfixPeer(
        folder,
        hostname=HOSTNAME,
        domain=DOMAIN,
        mailboxes=["dr.dupont", "secretariat"],
        identity=identity,
        ca=space.ca,
        routes=[route],
        **options,
    )


@pytest.fixture(scope="module")
def postfix(
    tmp_path_factory: pytest.TempPathFactory, space: TrustSpace, backbone: Stack
) -> Iterator[PostfixPeer]:
    """The listed Postfix operator, on the port our egress routes its domain to."""
    folder = tmp_path_factory.mktemp("postfix-operator") / "postfix"
    with operator(folder, space, backbone, space.postfix, peer_port=space.postfix_peer_port) as peer:
        yield peer


async def test_postfix_relays_to_us_over_mutual_tls(
    postfix: PostfixPeer, backbone: Stack, audit, bus
) -> None:
    content = message("postfix-to-mss", DOCTOR, SAAS)
    queue_id = await postfix.submit(DOCTOR, [SAAS], content)

    delivery = await postfix.wait_delivery(queue_id, SAAS)
    assert (delivery.status, delivery.dsn) == ("sent", "2.0.0"), delivery
    ours = re.fullmatch(r"250 2\.0\.0 Ok: queued as (\w+)", delivery.reply)
    assert ours is not None, delivery.reply
    verified = await postfix.wait_log(
        rf"Verified TLS connection established to {re.escape(delivery.relay)}: (TLSv[\d.]+) with cipher (\S+)"
    )
    assert verified.groups() == ("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384")

    mss_id = ours.group(1)
    await audit.wait_for(mss_id, AuditCode.AUDIT_CODE_STORED, SAAS)
    reply = await bus.request(
        subjects.MESSAGE_FETCH,
        encode(
            MessageFetchRequest(
                identity=SAAS, session=signed_session(backbone, SAAS), mailbox=SAAS, message_id=mss_id
            )
        ),
        timeout=5,
    )
    fetched = decode(MessageFetchReply, reply.data)
    assert fetched.found
    assert fetched.content.endswith(content), "the message is stored as Postfix sent it"
    added = fetched.content[: -len(content)]  # Postfix's own trace header, nothing else
    assert added.startswith(b"Received: from client.test (localhost [127.0.0.1])\r\n\tby ")
    assert f"by {HOSTNAME} (Postfix) with ESMTP id {queue_id}\r\n".encode() in added
    assert added.count(b"\r\nReceived: ") == 0


async def test_we_deliver_to_postfix_over_mutual_tls(postfix: PostfixPeer, backbone: Stack, audit) -> None:
    assert backbone.pki is not None
    content = message("mss-to-postfix", APP, DOCTOR)
    app = smtp.client_tls(backbone.pki.applications["dpi"], backbone.pki.ca)
    mss_id = await smtp.send(backbone.layout.submission, app, APP, [DOCTOR], content)

    relayed = await audit.wait_for(mss_id, AuditCode.AUDIT_CODE_RELAYED, DOCTOR)
    assert relayed.next_hop == f"127.0.0.1:{postfix.peer_port}"
    assert relayed.tls.subject_dn == POSTFIX_DN
    theirs = re.search(r"queued as (\w+)", relayed.reply)
    assert theirs is not None, relayed.reply
    delivery = await postfix.wait_delivery(theirs.group(1), DOCTOR)
    assert (delivery.relay, delivery.status) == ("virtual", "sent"), delivery

    stored = await postfix.wait_delivered(DOCTOR, f"id {mss_id};".encode())
    # maildir keeps lines with LF ends; above what we sent, only trace headers
    assert stored.endswith(content.replace(b"\r\n", b"\n")), "the message arrived unchanged"
    added = stored[: -len(content.replace(b"\r\n", b"\n"))]
    delivered_to, theirs_received, ours_received = added.split(b"\nReceived: ")
    assert delivered_to.startswith(f"Return-Path: <{APP}>\n".encode())
    assert re.match(rb"by \S+ \(mss\) id " + mss_id.encode() + b";\n", ours_received), ours_received
    assert b"(using TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384" in theirs_received
    issuer = b'Issuer "AC IGC-SANTE DEMO ORGANISATIONS"'
    assert f'(Client CN "{OUR_NAME}", '.encode() + issuer + b" (verified OK))" in theirs_received
    assert f"by {HOSTNAME} (Postfix) with ESMTPS id {delivery.queue_id}".encode() in theirs_received
    await postfix.wait_log(r"postfix/peer/smtpd\[\d+\]: Trusted TLS connection established from \S+")


async def test_postfix_without_a_client_certificate_stays_queued(
    tmp_path: Path, space: TrustSpace, backbone: Stack
) -> None:
    with operator(tmp_path / "postfix", space, backbone, space.postfix, client_certificate=False) as peer:
        queue_id = await peer.submit(DOCTOR, [SAAS], message("no-certificate", DOCTOR, SAAS))
        delivery = await peer.wait_delivery(queue_id, SAAS)
        assert delivery.status == "deferred", delivery
        queued = await peer.wait_queued(queue_id, "deferred")
    [recipient] = queued["recipients"]
    assert recipient["address"] == SAAS
    assert recipient["delay_reason"] == delivery.reply
    assert "Cannot start TLS: handshake failure" in delivery.reply, delivery.reply


async def test_postfix_with_a_certificate_not_listed_is_refused(
    tmp_path: Path, space: TrustSpace, backbone: Stack, audit
) -> None:
    with operator(tmp_path / "postfix", space, backbone, space.impostor) as peer:
        queue_id = await peer.submit(DOCTOR, [SAAS], message("impostor", DOCTOR, SAAS))
        delivery = await peer.wait_delivery(queue_id, SAAS)
        assert delivery.status == "bounced", delivery
        assert " said: 550 5.7.1 " in delivery.reply
        assert delivery.reply.endswith("(in reply to MAIL FROM command)")
        bounce = await peer.wait_delivered(DOCTOR, b"Subject: Undelivered Mail Returned to Sender")
    assert b"550 5.7.1" in bounce

    def refused() -> AuditEvent | None:
        return next(
            (
                e
                for e in audit.events
                if e.code == AuditCode.AUDIT_CODE_SENDER_REFUSED and e.tls.subject_dn == IMPOSTOR_DN
            ),
            None,
        )

    async with audit.changed:
        await asyncio.wait_for(audit.changed.wait_for(lambda: refused() is not None), 30)
    event = refused()
    assert event is not None
    assert event.mail_from == DOCTOR
    assert event.reply.startswith("550 5.7.1 ")
