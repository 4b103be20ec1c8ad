"""Rotating one component's NATS key: the server reloads its configuration without a restart, the
other components keep their connections, the new key works, and the old one stops working once it
is dropped."""

from __future__ import annotations

import asyncio

import nats
from mss.bus import identities as who
from mss.bus import subjects
from mss.devstack.nats import reload_nats
from mss.testing.fixtures import RunningNats

QUIET = {"allow_reconnect": False, "max_reconnect_attempts": 0, "connect_timeout": 3}


async def test_a_rotated_key_replaces_the_old_one_and_nobody_else_reconnects(
    nats_server: RunningNats,
) -> None:
    identities = nats_server.config.identities
    policy = await nats_server.connect(who.POLICY)
    old_ingress = await nats_server.connect(who.INGRESS)
    disconnected = asyncio.Event()

    async def on_disconnect() -> None:
        disconnected.set()

    old_ingress._disconnected_cb = on_disconnect
    try:

        async def answer(msg: nats.aio.msg.Msg) -> None:
            await msg.respond(b"ok")

        await policy.subscribe(subjects.RCPT_CHECK, queue=who.POLICY, cb=answer)
        old_public = identities.public_keys(who.INGRESS)[0]

        new_public = identities.rotate(who.INGRESS)
        reload_nats(nats_server.config, nats_server.process.pid)
        assert identities.public_keys(who.INGRESS) == [new_public, old_public]
        new_ingress = await nats_server.connect(who.INGRESS, **QUIET)
        try:
            for client in (old_ingress, new_ingress):  # both keys work during the change
                assert (await client.request(subjects.RCPT_CHECK, b"", timeout=5)).data == b"ok"

            identities.forget_previous(who.INGRESS)
            reload_nats(nats_server.config, nats_server.process.pid)
            await asyncio.wait_for(disconnected.wait(), 10)  # the old key is no longer accepted
            assert (await new_ingress.request(subjects.RCPT_CHECK, b"", timeout=5)).data == b"ok"
            assert policy.is_connected  # nobody else noticed
            assert policy.stats["reconnects"] == 0
        finally:
            await new_ingress.close()
    finally:
        await asyncio.gather(policy.close(), old_ingress.close())
