"""Ingress under failure: no verdict in time means 4xx, no durable publish means 451 and nothing kept."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import aiosmtplib
import nats
import pytest
from mss.bus import streams, subjects
from mss.bus.codec import encode
from mss.bus.connection import settled
from mss.devstack.demo import DemoPki, demo_pki
from mss.devstack.ports import free_port
from mss.ingress.app import build
from mss.ingress.settings import IngressSettings
from mss.testing.fixtures import RunningNats
from mss.testing.inprocess import running
from mss.testing.smtp import client_tls, connect
from mss.v1 import RecipientCheckReply, Route, RouteKind, SenderCheckReply, Verdict

pytestmark = pytest.mark.integration

ACCEPT = RecipientCheckReply(
    verdict=Verdict.VERDICT_ACCEPT,
    smtp_code=250,
    enhanced_code="2.1.5",
    reason="ok",
    route=Route(kind=RouteKind.ROUTE_KIND_LOCAL, tenant_id="t1"),
)
SENDER_OK = SenderCheckReply(
    verdict=Verdict.VERDICT_ACCEPT, smtp_code=250, enhanced_code="2.1.0", reason="ok"
)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    """The demo PKI: the operator's server certificate and the peer operator's client certificate."""
    return demo_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def peer(pki: DemoPki) -> ssl.SSLContext:
    """A client presenting the demo peer operator's certificate."""
    return client_tls(pki.peer_operator, pki.ca)


def ingress_settings(nats: dict[str, str], pki: DemoPki) -> IngressSettings:
    return IngressSettings(
        **nats,  # type: ignore[arg-type]
        http_port=0,
        peer_port=free_port(),
        submission_port=free_port(),
        hostname="mx.test",
        policy_timeout=0.5,
        publish_timeout=1.0,
        tls_cert_file=pki.operator.chain_path,
        tls_key_file=pki.operator.key_path,
        tls_ca_file=pki.ca,
        tls_crl_file=pki.crl,
    )


@pytest.fixture
def reconnected() -> asyncio.Event:
    """Set whenever the test's client reconnects."""
    return asyncio.Event()


@pytest.fixture
async def bus(nats_server: RunningNats, reconnected: asyncio.Event) -> AsyncIterator[nats.NATS]:
    """A client on the test server, with the audit stream tracing would own."""

    async def on_reconnect() -> None:
        reconnected.set()

    client = await nats_server.connect(
        max_reconnect_attempts=-1, reconnect_time_wait=0.1, reconnected_cb=on_reconnect
    )
    await streams.ensure_stream(client.jetstream(), streams.AUDIT)
    try:
        yield client
    finally:
        await client.close()


async def answer(bus: nats.NATS, subject: str, reply: bytes | None) -> asyncio.Event:
    """Stand in for policy on ``subject``: answer ``reply`` (None: never answer); set when asked."""
    asked = asyncio.Event()

    async def respond(msg: nats.aio.msg.Msg) -> None:
        asked.set()
        if reply is not None:
            await msg.respond(reply)

    await bus.subscribe(subject, queue=subjects.POLICY_QUEUE, cb=respond)
    await settled(bus)
    return asked


async def mail_rcpt(
    port: int, tls: ssl.SSLContext
) -> tuple[aiosmtplib.SMTPResponse, aiosmtplib.SMTPResponse | None]:
    """MAIL FROM then (if accepted) RCPT TO; the replies."""
    client = await connect(port, tls)
    try:
        mail = await client.execute_command(b"MAIL", b"FROM:<a@autre-operateur.mssante.fr>")
        if mail.code != 250:
            return mail, None
        return mail, await client.execute_command(b"RCPT", b"TO:<x@chu-demo.mssante.fr>")
    finally:
        await client.quit()


async def test_mail_without_policy_is_a_temporary_failure(
    bus: nats.NATS, nats_server: RunningNats, pki: DemoPki, peer: ssl.SSLContext
) -> None:
    settings = ingress_settings(nats_server.settings("ingress"), pki)
    async with running(build(settings)):
        mail, _ = await mail_rcpt(settings.peer_port, peer)
    assert (mail.code, mail.message[:5]) == (451, "4.4.3")


async def test_rcpt_with_a_silent_policy_is_a_temporary_failure(
    bus: nats.NATS, nats_server: RunningNats, pki: DemoPki, peer: ssl.SSLContext
) -> None:
    await answer(bus, subjects.SENDER_CHECK, encode(SENDER_OK))
    asked = await answer(bus, subjects.RCPT_CHECK, None)
    settings = ingress_settings(nats_server.settings("ingress"), pki)
    async with running(build(settings)):
        _, rcpt = await mail_rcpt(settings.peer_port, peer)
    assert asked.is_set()
    assert rcpt is not None
    assert (rcpt.code, rcpt.message[:5]) == (451, "4.4.3")


async def test_policy_refusal_is_passed_to_the_client(
    bus: nats.NATS, nats_server: RunningNats, pki: DemoPki, peer: ssl.SSLContext
) -> None:
    refusal = RecipientCheckReply(
        verdict=Verdict.VERDICT_REFUSE, smtp_code=550, enhanced_code="5.1.1", reason="No"
    )
    await answer(bus, subjects.SENDER_CHECK, encode(SENDER_OK))
    await answer(bus, subjects.RCPT_CHECK, encode(refusal))
    settings = ingress_settings(nats_server.settings("ingress"), pki)
    async with running(build(settings)):
        _, rcpt = await mail_rcpt(settings.peer_port, peer)
    assert rcpt is not None
    assert (rcpt.code, rcpt.message) == (550, "5.1.1 No")


async def test_mail_before_starttls_is_refused(
    bus: nats.NATS, nats_server: RunningNats, pki: DemoPki
) -> None:
    settings = ingress_settings(nats_server.settings("ingress"), pki)
    async with running(build(settings)):
        client = await connect(settings.peer_port, None)
        try:
            assert "starttls" in client.esmtp_extensions
            mail = await client.execute_command(b"MAIL", b"FROM:<a@autre-operateur.mssante.fr>")
            auth = await client.execute_command(b"AUTH", b"PLAIN", b"AGEAYg==")
        finally:
            await client.quit()
    assert (mail.code, mail.message[:5]) == (530, "5.7.0")
    assert auth.code == 538  # no authentication before TLS


async def test_jetstream_down_at_end_of_data_gives_451_and_keeps_nothing(
    bus: nats.NATS, nats_server: RunningNats, reconnected: asyncio.Event, pki: DemoPki, peer: ssl.SSLContext
) -> None:
    await answer(bus, subjects.SENDER_CHECK, encode(SENDER_OK))
    await answer(bus, subjects.RCPT_CHECK, encode(ACCEPT))
    settings = ingress_settings(nats_server.settings("ingress"), pki)
    async with running(build(settings)):
        client = await connect(settings.peer_port, peer)
        await client.mail("a@autre-operateur.mssante.fr")
        assert (await client.rcpt("jean.martin@chu-demo.mssante.fr")).code == 250
        nats_server.stop()
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await client.data(b"Subject: lost?\r\n\r\nbody\r\n")
        assert (refused.value.code, refused.value.message[:5]) == (451, "4.3.0")
        await client.quit()
        reconnected.clear()
        nats_server.restart()
        await asyncio.wait_for(reconnected.wait(), 30)
        js = bus.jetstream()
        for spec in (streams.WORK, streams.BLOBS):
            info = await js.stream_info(spec.name)
            assert info.state.messages == 0, spec.name
