"""Emitting audit events: every hop reports what it did to a message on the audit stream."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mss.bus import headers as hdr
from mss.bus import subjects
from mss.bus.codec import encode, now_timestamp
from mss.core.ids import new_queue_id
from mss.v1 import AuditEvent

Publish = Callable[[str, bytes, dict[str, str]], Awaitable[None]]
"""Durable publish of ``payload`` to ``subject`` with ``headers`` (JetStream ack awaited)."""


class Auditor:
    """Builds and durably publishes AuditEvent messages for one service."""

    def __init__(self, service: str, publish: Publish) -> None:
        self.service = service
        self.subject = subjects.audit(service)
        self._publish = publish

    def event(self, **fields: object) -> AuditEvent:
        """Build an event stamped with a fresh id, this service and the current time."""
        event = AuditEvent(event_id=new_queue_id(), service=self.service, **fields)  # type: ignore[arg-type]
        event.at.CopyFrom(now_timestamp())
        return event

    async def emit(self, event: AuditEvent) -> None:
        """Publish one event; its id doubles as the de-duplication key."""
        headers = {hdr.MSG_ID: event.event_id}
        if event.trace_id:
            headers.update(hdr.context_headers(event.trace_id))
        await self._publish(self.subject, encode(event), headers)
