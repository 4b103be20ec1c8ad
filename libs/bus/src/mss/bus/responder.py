"""Request/reply responders on plain nats-py: the hot paths of the SMTP dialogue (RCPT, MAIL FROM,
lookups, authentication) pay no framework cost per request.

Each request runs in its own task, at most ``workers`` at once; while all are busy, further
requests wait in the subscription's queue. A handler that raises gets no reply (the requester's
bounded wait turns that into its own temporary failure) and is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from mss.bus import subjects
from mss.bus.headers import CALLER
from mss.bus.telemetry import span
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry.trace import Tracer

log = logging.getLogger(__name__)

Handler = Callable[[bytes, dict[str, str]], Awaitable[bytes]]
"""Answers a request's payload and headers with the reply's payload."""


@dataclass
class Responder:
    """One subject answered by a queue group."""

    subject: str
    queue: str
    handler: Handler
    workers: int
    tracer: Tracer
    caller_in_subject: bool = False
    """Listen on ``<subject>.*`` and hand the handler the asker's identity in ``headers[CALLER]``."""
    _subscription: Subscription | None = None
    _inflight: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self, connection: Client) -> None:
        """Subscribe (the caller flushes before saying it is ready)."""
        limit = asyncio.Semaphore(self.workers)

        async def answer(msg: Msg) -> None:
            try:
                headers = dict(msg.headers or {})
                if self.caller_in_subject:  # the server let only that identity publish there
                    headers[CALLER] = subjects.caller_of(msg.subject, self.subject)
                else:
                    headers.pop(CALLER, None)
                with span(self.tracer, self.subject, headers):
                    reply = await self.handler(msg.data, headers)
                await msg.respond(reply)
            except Exception:
                log.exception("request not answered", extra={"subject": self.subject})
            finally:
                limit.release()

        async def dispatch(msg: Msg) -> None:
            await limit.acquire()
            task = asyncio.create_task(answer(msg))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

        subject = subjects.as_caller(self.subject, "*") if self.caller_in_subject else self.subject
        self._subscription = await connection.subscribe(subject, queue=self.queue, cb=dispatch)

    async def stop(self) -> None:
        """Take no new requests; let the ones in progress answer."""
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=10)
