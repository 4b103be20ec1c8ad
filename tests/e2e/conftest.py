"""End-to-end helpers: an SMTP client and a watcher of audit events on the running backbone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import nats
import pytest
from mss.bus import subjects
from mss.bus.codec import decode
from mss.bus.connection import settled
from mss.devstack.stack import Stack
from mss.testing.fixtures import connect_as
from mss.v1 import AuditCode, AuditEvent


@dataclass
class AuditWatch:
    """Every audit event published while the test runs, awaitable by condition."""

    events: list[AuditEvent] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def add(self, event: AuditEvent) -> None:
        """Record one event and wake the waiters."""
        async with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    async def wait_for(
        self, message_id: str, code: AuditCode.ValueType, recipient: str = "", timeout: float = 30.0
    ) -> AuditEvent:
        """The first event of ``message_id`` with ``code`` (and ``recipient``), waiting for it."""

        def found() -> AuditEvent | None:
            for event in self.events:
                if (
                    event.message_id == message_id
                    and event.code == code
                    and (not recipient or event.recipient == recipient)
                ):
                    return event
            return None

        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: found() is not None), timeout)
        event = found()
        assert event is not None
        return event


@pytest.fixture
async def audit(backbone: Stack) -> AsyncIterator[AuditWatch]:
    """Watch the audit subjects of the backbone."""
    watch = AuditWatch()
    client = await connect_as(backbone.nats)

    async def on_message(msg: nats.aio.msg.Msg) -> None:
        await watch.add(decode(AuditEvent, msg.data))

    await client.subscribe(f"{subjects.AUDIT_PREFIX}.>", cb=on_message)
    await settled(client)
    try:
        yield watch
    finally:
        await client.close()


@pytest.fixture
async def bus(backbone: Stack) -> AsyncIterator[nats.NATS]:
    """A NATS client on the backbone's server."""
    client = await connect_as(backbone.nats)
    try:
        yield client
    finally:
        await client.close()
