"""The egress service: relays deliveries to smarthosts and peer operators, per recipient."""

from __future__ import annotations

import time
from collections import defaultdict
from email.utils import formatdate

from faststream.nats import NatsMessage
from mss.bus import headers as hdr
from mss.bus import streams, subjects
from mss.bus.blobs import get_blob
from mss.bus.codec import encode
from mss.bus.headers import trace_headers
from mss.bus.service import BusService
from mss.bus.work import Retry, work_consumer
from mss.egress.domain.outcome import Outcome, RecipientResult, parse_hop, retry_delay
from mss.egress.relay import relay
from mss.egress.settings import EgressSettings
from mss.v1 import AuditCode, DeliveryRequested, Recipient, RecipientStatus, RouteKind

_AUDIT = {
    Outcome.DELIVERED: (AuditCode.AUDIT_CODE_RELAYED, RecipientStatus.RECIPIENT_STATUS_DELIVERED),
    Outcome.DEFERRED: (AuditCode.AUDIT_CODE_DEFERRED, RecipientStatus.RECIPIENT_STATUS_DEFERRED),
    Outcome.BOUNCED: (AuditCode.AUDIT_CODE_BOUNCED, RecipientStatus.RECIPIENT_STATUS_BOUNCED),
}


class Egress:
    """Delivery handler of the egress service."""

    def __init__(self, service: BusService, settings: EgressSettings) -> None:
        self.service = service
        self.settings = settings

    def next_hop(self, recipient: Recipient) -> str | None:
        """Where a recipient goes: the smarthost of a proxy domain, or a peer operator's route."""
        if recipient.route.next_hop:
            return recipient.route.next_hop
        if recipient.route.kind == RouteKind.ROUTE_KIND_PEER:
            return self.settings.peer_routes.get(recipient.address.rpartition("@")[2].lower())
        return None

    def received_header(self, request: DeliveryRequested) -> bytes:
        """The trace header egress adds on top of the body (RFC 5321 §4.4)."""
        return (
            f"Received: by {self.settings.hostname} (mss) id {request.message_id};\r\n"
            f"\t{formatdate(request.received_at.seconds)}\r\n"
        ).encode("ascii")

    async def on_deliver(self, request: DeliveryRequested, msg: NatsMessage) -> None:
        """Attempt delivery of every recipient; audit each; requeue the deferred ones."""
        if request.HasField("not_before"):
            wait = request.not_before.seconds - time.time()
            if wait > 0:
                raise Retry(wait, "not yet due")
        trace_id, headers = trace_headers(msg.headers)
        attempt = request.previous_attempts + 1
        content = self.received_header(request) + await get_blob(self.service.js, request.body)
        by_hop: dict[str | None, list[Recipient]] = defaultdict(list)
        for recipient in request.recipients:
            by_hop[self.next_hop(recipient)].append(recipient)
        results: list[tuple[RecipientResult, Recipient, str]] = []
        for hop, recipients in by_hop.items():
            for result, recipient in zip(
                await self.attempt(hop, request, recipients, content), recipients, strict=True
            ):
                results.append((result, recipient, hop or ""))
        expired = time.time() - request.received_at.seconds > self.settings.max_lifetime
        deferred: list[Recipient] = []
        for result, recipient, hop in results:
            outcome = result.outcome
            reply = result.reply
            if outcome is Outcome.DEFERRED and expired:
                outcome, reply = Outcome.BOUNCED, f"{reply} (message lifetime exceeded)"
            if outcome is Outcome.DEFERRED:
                deferred.append(recipient)
            code, status = _AUDIT[outcome]
            await self.service.auditor.emit(
                self.service.auditor.event(
                    code=code,
                    message_id=request.message_id,
                    recipient=recipient.address,
                    mail_from=request.mail_from,
                    tenant_id=recipient.route.tenant_id,
                    status=status,
                    reply=reply,
                    next_hop=hop,
                    attempt=attempt,
                    trace_id=trace_id,
                )
            )
        if deferred:
            await self.requeue(request, deferred, attempt, headers)

    async def attempt(
        self, hop: str | None, request: DeliveryRequested, recipients: list[Recipient], content: bytes
    ) -> list[RecipientResult]:
        """One SMTP transaction to ``hop`` for ``recipients``."""
        addresses = [r.address for r in recipients]
        if hop is None:
            return [
                RecipientResult(a, Outcome.DEFERRED, "451 4.4.0 No route to the recipient's operator")
                for a in addresses
            ]
        try:
            host, port = parse_hop(hop)
        except ValueError as exc:
            return [RecipientResult(a, Outcome.DEFERRED, f"451 4.3.5 {exc}") for a in addresses]
        return await relay(
            host,
            port,
            helo=self.settings.hostname,
            mail_from=request.mail_from,
            recipients=addresses,
            content=content,
            connect_timeout=self.settings.connect_timeout,
            command_timeout=self.settings.command_timeout,
        )

    async def requeue(
        self, request: DeliveryRequested, deferred: list[Recipient], attempt: int, headers: dict[str, str]
    ) -> None:
        """Publish a new request for the deferred recipients, due after the retry delay."""
        retry = DeliveryRequested()
        retry.CopyFrom(request)
        del retry.recipients[:]
        retry.recipients.extend(deferred)
        retry.previous_attempts = attempt
        retry.not_before.seconds = int(time.time() + retry_delay(attempt, self.settings.retry_delays))
        await self.service.publish(
            subjects.DELIVER_REMOTE,
            encode(retry),
            {**headers, hdr.MSG_ID: f"{request.message_id}:retry:{attempt}"},
        )


def build(settings: EgressSettings) -> BusService:
    """Wire the service."""
    service = BusService("egress", settings, needs=[streams.WORK, streams.BLOBS, streams.AUDIT])
    egress = Egress(service, settings)
    work_consumer(service, streams.EGRESS, DeliveryRequested, egress.on_deliver, workers=settings.workers)
    return service
