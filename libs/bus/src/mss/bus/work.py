"""Durable work consumers: decode, handle, then ack — or retry later, or set aside poison."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import nats.errors
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsMessage, PullSub
from google.protobuf.message import Message
from mss.bus.codec import decode
from mss.bus.identities import inbox_prefix
from mss.bus.service import BusService
from mss.bus.streams import ConsumerSpec, ensure_consumer
from mss.bus.telemetry import span
from mss.core.errors import ContractError
from nats.aio.msg import Msg
from opentelemetry.trace import SpanKind
from prometheus_client import Counter

log = logging.getLogger(__name__)

ITEMS = Counter(
    "mss_work_items_total",
    "Work items this process handled, by durable consumer and outcome (done, deferred, failed, poison)",
    ["consumer", "outcome"],
)

M = TypeVar("M", bound=Message)

FETCH_WAIT = 1.0
"""Longest wait of one pull for work (bounds how long stopping takes)."""
RETRY_DELAY = 5.0
"""Seconds before a work item that failed for an unexpected reason is offered again."""


class Retry(Exception):
    """Raised by a handler to have the item redelivered after ``delay`` seconds."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay


def work_consumer(
    service: BusService,
    spec: ConsumerSpec,
    kind: type[M],
    handler: Callable[[M, NatsMessage], Awaitable[None]],
    *,
    workers: int = 1,
) -> Any:
    """Subscribe ``handler`` to a durable pull consumer with manual acknowledgement.

    The handler's return acks the item; :class:`Retry` or any other exception naks it with a
    delay (nothing is lost); an undecodable payload is terminated (it can never succeed). While the
    handler runs, the item is reported in progress every third of the consumer's ack wait, so a
    long SMTP transaction keeps its item while a crashed worker's items come back within one
    ack wait.
    """

    async def consume(body: bytes, msg: NatsMessage) -> None:
        try:
            item = decode(kind, body)
        except ContractError:
            log.error("poison work item terminated", extra={"subject": msg.raw_message.subject})
            ITEMS.labels(spec.durable, "poison").inc()
            await msg.reject()
            return
        beat = asyncio.create_task(_in_progress(msg, spec.ack_wait / 3))
        try:
            with span(service.tracer, spec.filter_subject, msg.headers, SpanKind.CONSUMER):
                await handler(item, msg)
        except Retry as retry:
            log.warning("work item deferred", extra={"reason": str(retry), "delay": retry.delay})
            ITEMS.labels(spec.durable, "deferred").inc()
            await msg.nack(delay=retry.delay)
            return
        except Exception:
            log.exception("work item failed; will be retried")
            ITEMS.labels(spec.durable, "failed").inc()
            await msg.nack(delay=RETRY_DELAY)
            return
        finally:
            beat.cancel()
        await msg.ack()
        ITEMS.labels(spec.durable, "done").inc()

    return service.broker.subscriber(
        spec.filter_subject,
        stream=JStream(spec.stream.name, declare=False),
        durable=spec.durable,
        config=spec.config(),
        pull_sub=PullSub(batch_size=workers, timeout=FETCH_WAIT),
        inbox_prefix=f"{inbox_prefix(service.name)}.".encode(),  # fetched items arrive on our own inbox
        ack_policy=AckPolicy.MANUAL,
        max_workers=workers,
    )(consume)


async def _in_progress(msg: NatsMessage, every: float) -> None:
    """Tell the server, every ``every`` seconds, that the item is still being worked on."""
    while True:
        await asyncio.sleep(every)
        try:
            await msg.in_progress()
        except nats.errors.Error as exc:  # the ack wait may run out: the item is then redelivered
            log.warning("progress not reported", extra={"error": type(exc).__name__})


def batch_consumer(
    service: BusService,
    spec: ConsumerSpec,
    kind: type[M],
    handler: Callable[[list[M]], Awaitable[None]],
    *,
    batch: int = 256,
    linger: float = 0.2,
) -> None:
    """Run ``handler`` on batches of up to ``batch`` items, for consumers that pay per round trip.

    A fetch returns what is available at once, or waits up to ``linger`` seconds for the first
    item. The batch is acked after the handler returns, or naked with a delay when it raises;
    undecodable items are terminated, since they can never succeed. (A plain nats-py pull loop:
    FastStream 0.7.8's batch subscriber dies on an empty fetch.)
    """

    async def consume_forever() -> None:
        js = service.js
        await ensure_consumer(js, spec)
        subscription = await js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream.name)
        try:
            while not service.stopped:  # ends within one fetch of the stop (never cancelled mid-fetch)
                try:
                    messages = await subscription.fetch(batch, timeout=linger)
                except TimeoutError:  # nats-py raises its own or asyncio's, depending on where it waited
                    continue
                except nats.errors.Error as exc:  # disconnected: nats-py reconnects by itself
                    log.warning("fetch failed", extra={"durable": spec.durable, "error": type(exc).__name__})
                    await asyncio.sleep(RETRY_DELAY)
                    continue
                await _handle_batch(spec.durable, messages, kind, handler)
                for message in messages:  # each item's trace shows it was handled here
                    with span(service.tracer, spec.filter_subject, message.headers, SpanKind.CONSUMER):
                        pass
        finally:  # cancelled on stop: leave nothing for the connection's drain to wait for
            await subscription.unsubscribe()

    service.background.append(consume_forever)
    service.finishing.append(consume_forever)


async def _handle_batch(
    durable: str, messages: list[Msg], kind: type[M], handler: Callable[[list[M]], Awaitable[None]]
) -> None:
    items, good = [], []
    for message in messages:
        try:
            items.append(decode(kind, message.data))
            good.append(message)
        except ContractError:
            log.error("poison work item terminated", extra={"subject": message.subject})
            ITEMS.labels(durable, "poison").inc()
            await message.term()
    try:
        if items:
            await handler(items)
    except Exception:
        log.exception("work batch failed; will be retried")
        ITEMS.labels(durable, "failed").inc(len(good))
        for message in good:
            await message.nak(delay=RETRY_DELAY)
        return
    for message in good:
        await message.ack()
    ITEMS.labels(durable, "done").inc(len(good))
