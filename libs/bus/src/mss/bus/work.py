"""Durable work consumers: decode, handle, then ack — or retry later, or set aside poison."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsMessage, PullSub
from google.protobuf.message import Message
from mss.bus.codec import decode
from mss.bus.service import BusService
from mss.bus.streams import ConsumerSpec
from mss.core.errors import ContractError

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)

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
    delay (nothing is lost); an undecodable payload is terminated (it can never succeed).
    """

    async def consume(body: bytes, msg: NatsMessage) -> None:
        try:
            item = decode(kind, body)
        except ContractError:
            log.error("poison work item terminated", extra={"subject": msg.raw_message.subject})
            await msg.reject()
            return
        try:
            await handler(item, msg)
        except Retry as retry:
            log.warning("work item deferred", extra={"reason": str(retry), "delay": retry.delay})
            await msg.nack(delay=retry.delay)
            return
        except Exception:
            log.exception("work item failed; will be retried")
            await msg.nack(delay=RETRY_DELAY)
            return
        await msg.ack()

    return service.broker.subscriber(
        spec.filter_subject,
        stream=JStream(spec.stream.name, declare=False),
        durable=spec.durable,
        config=spec.config(),
        pull_sub=PullSub(batch_size=workers, timeout=5.0),
        ack_policy=AckPolicy.MANUAL,
        max_workers=workers,
    )(consume)
