"""Routing of accepted messages: one DeliveryRequested per route kind (storage or egress)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from faststream.nats import NatsMessage
from mss.bus import headers as hdr
from mss.bus import subjects
from mss.bus.codec import encode
from mss.bus.headers import trace_headers
from mss.bus.service import BusService
from mss.policy.content import ContentInspector
from mss.v1 import (
    AuditCode,
    DeliveryRequested,
    MessageReceived,
    Recipient,
    RecipientStatus,
    RouteKind,
)

log = logging.getLogger(__name__)

_SUBJECT = {
    RouteKind.ROUTE_KIND_LOCAL: subjects.DELIVER_LOCAL,
    RouteKind.ROUTE_KIND_PROXY: subjects.DELIVER_REMOTE,
    RouteKind.ROUTE_KIND_PEER: subjects.DELIVER_REMOTE,
}


def split(event: MessageReceived) -> dict[str, list[Recipient]]:
    """Recipients grouped by the work subject that delivers them."""
    groups: dict[str, list[Recipient]] = defaultdict(list)
    for recipient in event.recipients:
        groups[_SUBJECT[recipient.route.kind]].append(recipient)
    return dict(groups)


class Router:
    """Consumes MessageReceived and publishes the deliveries, idempotently."""

    def __init__(self, service: BusService, content: ContentInspector) -> None:
        self.service = service
        self.content = content

    async def on_received(self, event: MessageReceived, msg: NatsMessage) -> None:
        """Audit each recipient as queued, then publish one DeliveryRequested per work subject."""
        trace_id, headers = trace_headers(msg.headers)
        auditor = self.service.auditor
        await asyncio.gather(
            *(
                auditor.emit(
                    auditor.event(
                        code=AuditCode.AUDIT_CODE_MESSAGE_ROUTED,
                        message_id=event.message_id,
                        recipient=recipient.address,
                        mail_from=event.mail_from,
                        status=RecipientStatus.RECIPIENT_STATUS_QUEUED,
                        tenant_id=recipient.route.tenant_id,
                        reason=RouteKind.Name(recipient.route.kind),
                        next_hop=recipient.route.next_hop,
                        trace_id=trace_id,
                    )
                )
                for recipient in event.recipients
            )
        )
        for subject, recipients in split(event).items():
            request = DeliveryRequested(
                message_id=event.message_id,
                mail_from=event.mail_from,
                recipients=recipients,
                body=event.body,
                received_at=event.received_at,
                dsn=event.dsn,
            )
            await self.service.publish(
                subject, encode(request), {**headers, hdr.MSG_ID: f"{event.message_id}:{subject}"}
            )
        # After the deliveries: reading the content never delays them, and a flaw in it must not
        # make the routing retried forever.
        for wanted, read in (
            (event.xdm_attachment, self.content.inspect),
            (event.disposition_notification, self.content.disposition),
        ):
            if wanted:
                try:
                    await read(event, trace_id)
                except Exception:
                    log.exception("content not read", extra={"message_id": event.message_id})
