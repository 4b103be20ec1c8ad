"""A work item whose handler takes longer than the consumer's ack wait is kept, not handed to a
second worker: the consumer reports it in progress while the handler runs."""

from __future__ import annotations

import asyncio

from faststream.nats import NatsMessage
from mss.bus import streams
from mss.bus.codec import encode
from mss.bus.service import BusService
from mss.bus.streams import ConsumerSpec
from mss.bus.work import work_consumer
from mss.core.settings import ServiceSettings
from mss.testing.fixtures import RunningNats
from mss.testing.inprocess import running
from mss.v1 import DeliveryRequested

SUBJECT = "mss.v1.egress.probe"


async def test_a_long_handler_keeps_its_item_past_the_ack_wait(nats_server: RunningNats) -> None:
    service = BusService("probe", ServiceSettings(**nats_server.settings()), needs=[streams.WORK])
    spec = ConsumerSpec("probe", streams.WORK, SUBJECT, "harness", ack_wait=1.0)
    calls: list[int] = []
    done = asyncio.Event()

    async def handle(item: DeliveryRequested, msg: NatsMessage) -> None:
        calls.append(msg.raw_message.metadata.num_delivered)
        await asyncio.sleep(3.0)  # a slow SMTP transaction: three times the ack wait
        done.set()

    work_consumer(service, spec, DeliveryRequested, handle, workers=4)
    client = await nats_server.connect()
    try:
        await streams.ensure_stream(client.jetstream(), streams.WORK)
        async with running(service):
            await client.jetstream().publish(SUBJECT, encode(DeliveryRequested(message_id="01LONG")))
            await asyncio.wait_for(done.wait(), 10)
            info = await client.jetstream().consumer_info(streams.WORK.name, "probe")
            for _ in range(100):  # the ack follows the handler's return
                if info.num_ack_pending == 0:
                    break
                await asyncio.sleep(0.02)
                info = await client.jetstream().consumer_info(streams.WORK.name, "probe")
    finally:
        await client.close()
    assert calls == [1]
    assert (info.num_redelivered, info.num_ack_pending) == (0, 0)
