"""The life cycle shared by the bus services: connect, declare, serve, drain on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

import nats.errors
from faststream.nats import NatsBroker
from google.protobuf.message import Message
from mss.bus import subjects
from mss.bus.audit import Auditor
from mss.bus.codec import decode, encode
from mss.bus.connection import broker_options, settled, without_secrets
from mss.bus.ops import Readiness, ops_app, start_ops
from mss.bus.responder import Handler, Responder
from mss.bus.streams import StreamSpec, ensure_stream, wait_for_streams
from mss.bus.telemetry import provider_for
from mss.core.errors import ContractError, UnavailableError
from mss.core.logs import setup_logging
from mss.core.settings import ServiceSettings
from mss.core.tls import https_context
from nats.js import JetStreamContext

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Message)

BACKGROUND_GRACE = 3.0
"""Seconds background jobs have to end by themselves on stop before they are cancelled."""

Hook = Callable[[], Awaitable[None]]


class BusService:
    """One mss service: a FastStream NATS broker, its streams, audit and operations endpoint."""

    def __init__(
        self,
        name: str,
        settings: ServiceSettings,
        *,
        owns: Sequence[StreamSpec] = (),
        needs: Sequence[StreamSpec] = (),
    ) -> None:
        self.name = name
        self.settings = settings
        self.owns = list(owns)
        self.needs = [spec for spec in needs if spec not in owns]
        self.broker = NatsBroker(
            settings.nats_url.split(","),
            name=f"mss-{name}",
            **broker_options(name, settings.nats_credentials_file, settings.nats_ca_file),
            max_reconnect_attempts=-1,
            pending_size=0,  # never buffer while disconnected: a publish fails fast instead
            logger=logging.getLogger(f"mss.{name}.bus"),
            log_level=logging.DEBUG,  # one line per consumed message is debugging, not operations
        )
        self.readiness = Readiness()
        self.http = ops_app(self.readiness)
        self.auditor = Auditor(name, self.publish)
        self.traces = provider_for(name, settings.otlp_endpoint)
        self.tracer = self.traces.get_tracer("mss")
        self.startup: list[Hook] = []
        """Run after NATS is connected and before subscribers start (open pools, load data)."""
        self.background: list[Callable[[], Coroutine[Any, Any, None]]] = []
        """Long-running tasks started with the subscribers and cancelled on stop."""
        self.finishing: list[Callable[[], Coroutine[Any, Any, None]]] = []
        """Background jobs that end by themselves once `stopped` (awaited, not cancelled, on stop)."""
        self.stopping: list[Hook] = []
        """Run first on stop, before subscribers drain (stop accepting new work)."""
        self.responders: list[Responder] = []
        """Request/reply subjects answered with plain nats-py (see :meth:`respond`)."""
        self.shutdown: list[Hook] = []
        """Run after subscribers have drained (close pools)."""
        self._js: JetStreamContext | None = None
        self._stop = asyncio.Event()
        self.ready = asyncio.Event()
        """Set once the service serves (for callers that run it in-process)."""

    @property
    def js(self) -> JetStreamContext:
        """The JetStream context (available once started)."""
        if self._js is None:
            raise UnavailableError("the service is not connected to NATS yet")
        return self._js

    async def ask(
        self,
        subject: str,
        request: Message,
        kind: type[R],
        timeout: float,
        headers: dict[str, str] | None = None,
    ) -> R | None:
        """Another service's answer to ``request``, or None when none comes in time (logged)."""
        try:
            reply = await self.broker.connection.request(
                subject, encode(request), timeout=timeout, headers=headers
            )
            return decode(kind, reply.data)
        except (
            nats.errors.TimeoutError,
            nats.errors.NoRespondersError,
            nats.errors.ConnectionClosedError,
            ContractError,
        ) as exc:
            log.warning("no answer", extra={"subject": subject, "error": type(exc).__name__})
            return None

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        """Publish durably: returns once JetStream has acknowledged the message."""
        await self.js.publish(subject, payload, headers=headers, timeout=self.settings.request_timeout)

    async def connect(self) -> None:
        """Connect to NATS, retrying while the server is not up yet (bounded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30.0
        delay = 0.1
        while True:
            try:
                await self.broker.connect()
                break
            except (OSError, TimeoutError) as exc:
                if loop.time() > deadline:
                    raise UnavailableError(
                        f"cannot reach NATS at {without_secrets(self.settings.nats_url)}"
                    ) from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        self._js = self.broker.connection.jetstream()
        for spec in self.owns:
            await ensure_stream(self._js, spec, self.settings.stream_replicas)
        await wait_for_streams(self._js, self.needs, timeout=60.0)

    def respond(self, subject: str, queue: str, handler: Handler, workers: int) -> None:
        """Answer requests on ``subject`` in queue group ``queue``, ``workers`` at once (on
        ``<subject>.<caller>`` when the catalogue puts the caller in the subject)."""
        by_caller = any(r.subject == subject and r.caller_in_subject for r in subjects.REQUESTS)
        self.responders.append(Responder(subject, queue, handler, workers, self.tracer, by_caller))

    @property
    def stopped(self) -> bool:
        """True once the service was asked to stop: long-running jobs end their loop."""
        return self._stop.is_set()

    def stop(self) -> None:
        """Ask the service to stop (drains in-flight work)."""
        self._stop.set()

    def every(self, seconds: float, job: Callable[[], Awaitable[None]], *, now: bool = True) -> None:
        """Run ``job`` now (or, with ``now=False``, first after ``seconds``) and then every ``seconds``
        until the service stops, as a job that ends by itself (never cancelled in the middle: nats-py
        may swallow a cancellation and carry on). A job that raises is logged and run again at the
        next period."""

        async def periodically() -> None:
            if not now:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), seconds)
            while not self.stopped:
                try:
                    await job()
                except Exception:
                    log.exception("periodic job failed", extra={"job": getattr(job, "__name__", str(job))})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), seconds)

        self.background.append(periodically)
        self.finishing.append(periodically)

    async def _disconnect(self) -> None:
        """Drain subscribers and close; close at once when NATS is unreachable at that moment."""
        try:
            await self.broker.stop()
        except (nats.errors.ConnectionReconnectingError, nats.errors.ConnectionClosedError):
            log.warning("NATS unreachable at shutdown: closing without draining")
            if self._js is not None:
                await self.broker.connection.close()

    def _background_ended(self, task: asyncio.Task[None]) -> None:
        """A background job must run until stopped: if one ends otherwise, say so and stop being ready."""
        if task.cancelled():
            return
        error = task.exception()
        if self.readiness.started or error is not None:
            log.error(
                "background job ended; the service is no longer ready",
                extra={"job": task.get_coro().__qualname__, "error": repr(error)},  # type: ignore[union-attr]
                exc_info=error,
            )
            self.readiness.checks.append(("background jobs", lambda: False))

    async def run(self, *, standalone: bool = True) -> None:
        """Run until stopped: start-up, serve, then drain and clean up.

        Standalone (``python -m``), the service owns the process: JSON logs, SIGTERM/SIGINT stop it.
        """
        if standalone:
            setup_logging(self.name, self.settings.log_level)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
        tls = None
        if self.settings.http_tls_cert_file and self.settings.http_tls_key_file:
            tls = https_context(self.settings.http_tls_cert_file, self.settings.http_tls_key_file)
        runner = await start_ops(self.http, self.settings.http_host, self.settings.http_port, tls)
        try:
            await self.connect()
            for hook in self.startup:
                await hook()
            await self.broker.start()
            for responder in self.responders:
                await responder.start(self.broker.connection)
            jobs = list(self.background)
            tasks: list[asyncio.Task[None]] = [asyncio.create_task(job()) for job in jobs]
            for task in tasks:
                task.add_done_callback(self._background_ended)
            connection = self.broker.connection
            await settled(connection)  # the server knows every subscription before we say ready
            self.readiness.checks.append(("nats", lambda: connection.is_connected))
            self.readiness.started = True
            self.ready.set()
            log.info("service started", extra={"nats": without_secrets(self.settings.nats_url)})
            await self._stop.wait()
            self.readiness.started = False
            log.info("service stopping")
            for responder in self.responders:
                await responder.stop()
            for hook in self.stopping:
                await hook()
            # Consumers watch `stopped` and end within one fetch: let them (nats-py's fetch may swallow
            # a cancellation and wait on); cancel the other jobs, and a consumer that overstays.
            finishing = [t for t, job in zip(tasks, jobs, strict=True) if job in self.finishing]
            for task in tasks:
                if task not in finishing:
                    task.cancel()
            if finishing:
                _, overstaying = await asyncio.wait(finishing, timeout=BACKGROUND_GRACE)
                for task in overstaying:
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await self._disconnect()
            for hook in self.shutdown:
                await hook()
            self.traces.force_flush()
            if standalone:  # in-process (tests), processors may be shared with other services
                self.traces.shutdown()
            if runner is not None:
                await runner.cleanup()
