"""The queue API (``mss.v1.ops.queue``): an operator lists the backlog per destination, shows a
destination's messages, and retries, holds, releases or cancels them. Every action is audited on
each message's timeline (QUEUE_CHANGED) under the NATS identity that asked, which the server vouches
for (the request arrives on ``mss.v1.ops.queue.<identity>``); the user name the request carries is
recorded as what it is, a claim."""

from __future__ import annotations

from mss.bus import queue
from mss.bus.codec import decode, encode
from mss.bus.headers import CALLER
from mss.bus.service import BusService
from mss.v1 import AuditCode, QueueBacklog, QueueEntry, QueueReply, QueueRequest

ACTIONS = ("retry", "hold", "release", "cancel")


class QueueOperations:
    """Answers QueueRequest."""

    def __init__(self, service: BusService) -> None:
        self.service = service

    async def handle(self, request: QueueRequest, caller: str) -> QueueReply:
        """One command, asked by the NATS identity ``caller``."""
        js = self.service.js
        if request.command == "list":
            backlog = await queue.backlog(js)
            return QueueReply(
                backlog=[QueueBacklog(destination=d, scheduled=s, held=h) for d, (s, h) in backlog.items()]
            )
        if request.command not in ("show", *ACTIONS):
            return QueueReply(error=f"unknown command {request.command!r}")
        if not request.destination:
            return QueueReply(error="a destination is required")
        if request.command == "cancel" and not request.reason.strip():
            return QueueReply(error="a reason is required to cancel")
        found = await queue.entries(js, request.destination, request.message_id)
        if request.command == "release":
            found = [entry for entry in found if entry.held]
        for entry in found:
            if request.command in ("retry", "release"):
                await queue.retry_now(js, entry)
            elif request.command == "hold":
                await queue.hold(js, entry)
            elif request.command == "cancel":
                await queue.cancel(js, entry, request.reason.strip())
            if request.command != "show":
                await self.audit(entry, request, caller)
        return QueueReply(
            entries=[
                QueueEntry(destination=e.destination, message_id=e.message_id, held=e.held, request=e.request)
                for e in found
            ]
        )

    async def audit(self, entry: queue.Entry, request: QueueRequest, caller: str) -> None:
        """Record the action on the message's timeline, per recipient."""
        auditor = self.service.auditor
        why = f" ({request.reason.strip()})" if request.command == "cancel" else ""
        claimed = f", user {request.actor!r} by their own account" if request.actor else ""
        for recipient in entry.request.recipients:
            await auditor.emit(
                auditor.event(
                    code=AuditCode.AUDIT_CODE_QUEUE_CHANGED,
                    message_id=entry.message_id,
                    recipient=recipient.address,
                    mail_from=entry.request.mail_from,
                    tenant_id=recipient.route.tenant_id,
                    next_hop=entry.destination,
                    reason=f"{request.command} by {caller}{claimed}{why}",
                )
            )

    async def on_request(self, body: bytes, headers: dict[str, str]) -> bytes:
        """NATS request handler."""
        return encode(await self.handle(decode(QueueRequest, body), headers[CALLER]))
