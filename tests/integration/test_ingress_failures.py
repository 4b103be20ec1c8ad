"""Ingress under failure: no verdict in time means 4xx, no durable publish means 451 and nothing kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiosmtplib
import nats
import pytest
from mss.bus import streams, subjects
from mss.bus.codec import encode
from mss.devstack.ports import free_port
from mss.ingress.app import build
from mss.ingress.settings import IngressSettings
from mss.testing.fixtures import RunningNats
from mss.testing.inprocess import running
from mss.v1 import RecipientCheckReply, Route, RouteKind, Verdict

pytestmark = pytest.mark.integration

ACCEPT = RecipientCheckReply(
    verdict=Verdict.VERDICT_ACCEPT,
    smtp_code=250,
    enhanced_code="2.1.5",
    reason="ok",
    route=Route(kind=RouteKind.ROUTE_KIND_LOCAL, tenant_id="t1"),
)


def ingress_settings(nats_url: str) -> IngressSettings:
    return IngressSettings(
        nats_url=nats_url,
        http_port=0,
        peer_port=free_port(),
        submission_port=free_port(),
        hostname="mx.test",
        policy_timeout=0.5,
        publish_timeout=1.0,
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

    client = await nats.connect(
        nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1, reconnected_cb=on_reconnect
    )
    await streams.ensure_stream(client.jetstream(), streams.AUDIT)
    try:
        yield client
    finally:
        await client.close()


async def rcpt(settings: IngressSettings, address: str) -> aiosmtplib.SMTPResponse:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=settings.peer_port, start_tls=False)
    await client.connect()
    try:
        await client.ehlo()
        await client.mail("a@autre-operateur.mssante.fr")
        return await client.execute_command(b"RCPT", f"TO:<{address}>".encode())
    finally:
        await client.quit()


async def test_rcpt_without_policy_is_a_temporary_failure(bus: nats.NATS, nats_server: RunningNats) -> None:
    settings = ingress_settings(nats_server.url)
    async with running(build(settings)):
        reply = await rcpt(settings, "x@chu-demo.mssante.fr")
    assert (reply.code, reply.message[:5]) == (451, "4.4.3")


async def test_rcpt_with_a_silent_policy_is_a_temporary_failure(
    bus: nats.NATS, nats_server: RunningNats
) -> None:
    asked = asyncio.Event()

    async def never_answer(msg: nats.aio.msg.Msg) -> None:
        asked.set()

    await bus.subscribe(subjects.RCPT_CHECK, queue=subjects.POLICY_QUEUE, cb=never_answer)
    await bus.flush()
    settings = ingress_settings(nats_server.url)
    async with running(build(settings)):
        reply = await rcpt(settings, "x@chu-demo.mssante.fr")
    assert asked.is_set()
    assert (reply.code, reply.message[:5]) == (451, "4.4.3")


async def test_policy_refusal_is_passed_to_the_client(bus: nats.NATS, nats_server: RunningNats) -> None:
    async def refuse(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(
            encode(
                RecipientCheckReply(
                    verdict=Verdict.VERDICT_REFUSE, smtp_code=550, enhanced_code="5.1.1", reason="No"
                )
            )
        )

    await bus.subscribe(subjects.RCPT_CHECK, queue=subjects.POLICY_QUEUE, cb=refuse)
    settings = ingress_settings(nats_server.url)
    async with running(build(settings)):
        reply = await rcpt(settings, "x@chu-demo.mssante.fr")
    assert (reply.code, reply.message) == (550, "5.1.1 No")


async def test_jetstream_down_at_end_of_data_gives_451_and_keeps_nothing(
    bus: nats.NATS, nats_server: RunningNats, reconnected: asyncio.Event
) -> None:
    async def accept(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(encode(ACCEPT))

    await bus.subscribe(subjects.RCPT_CHECK, queue=subjects.POLICY_QUEUE, cb=accept)
    await bus.flush()
    settings = ingress_settings(nats_server.url)
    async with running(build(settings)):
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=settings.peer_port, start_tls=False)
        await client.connect()
        await client.ehlo()
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
