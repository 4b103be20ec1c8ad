"""Trust-space rules on the running backbone: who may send as whom, and to whom."""

from __future__ import annotations

import pytest
from mss.devstack.stack import Stack
from mss.testing import smtp

pytestmark = pytest.mark.e2e


async def dialogue(backbone: Stack, port: int, identity: str, mail_from: str, rcpt: str | None = None):
    """MAIL FROM (and RCPT TO) with a demo identity; the last reply."""
    assert backbone.pki is not None
    issued = backbone.pki.peer_operator if identity == "peer" else backbone.pki.applications[identity]
    client = await smtp.connect(port, smtp.client_tls(issued, backbone.pki.ca))
    try:
        reply = await client.execute_command(b"MAIL", f"FROM:<{mail_from}>".encode())
        if rcpt is not None and reply.code == 250:
            reply = await client.execute_command(b"RCPT", f"TO:<{rcpt}>".encode())
        return reply
    finally:
        await client.quit()


async def test_certificate_not_listed_for_the_sender_domain_is_refused(backbone: Stack) -> None:
    reply = await dialogue(backbone, backbone.layout.peer_smtp, "dpi", "dr@autre-operateur.mssante.fr")
    assert (reply.code, reply.message[:5]) == (550, "5.7.1")


async def test_peer_operator_cannot_use_us_as_a_relay(backbone: Stack) -> None:
    reply = await dialogue(
        backbone,
        backbone.layout.peer_smtp,
        "peer",
        "dr@autre-operateur.mssante.fr",
        "x@autre-operateur.mssante.fr",
    )
    assert (reply.code, reply.message[:5]) == (550, "5.7.1")


async def test_applicative_mailbox_cannot_send_as_someone_else(backbone: Stack) -> None:
    reply = await dialogue(backbone, backbone.layout.submission, "dpi", "jean.martin@chu-demo.mssante.fr")
    assert (reply.code, reply.message[:5]) == (553, "5.7.1")
    own = await dialogue(backbone, backbone.layout.submission, "dpi", "dpi@chu-demo.mssante.fr")
    assert own.code == 250


async def test_submission_without_a_certificate_needs_authentication(backbone: Stack) -> None:
    assert backbone.pki is not None
    client = await smtp.connect(backbone.layout.submission, smtp.client_tls(None, backbone.pki.ca))
    try:
        reply = await client.execute_command(b"MAIL", b"FROM:<jean.martin@chu-demo.mssante.fr>")
    finally:
        await client.quit()
    assert (reply.code, reply.message[:5]) == (530, "5.7.0")


async def test_applicative_mailboxes_never_receive(backbone: Stack) -> None:
    reply = await dialogue(
        backbone,
        backbone.layout.peer_smtp,
        "peer",
        "dr@autre-operateur.mssante.fr",
        "dpi@chu-demo.mssante.fr",
    )
    assert (reply.code, reply.message[:5]) == (550, "5.7.1")
