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
from mss.core.errors import UnavailableError
from mss.policy.content import ContentInspector
from mss.policy.sender import Lookup
from mss.v1 import (
    AuditCode,
    DeliveryRequested,
    DomainMode,
    MailboxStatus,
    MailboxType,
    MessageReceived,
    Recipient,
    RecipientStatus,
    Route,
    RouteKind,
)

log = logging.getLogger(__name__)

SENT = "Sent"
"""The folder of a hosted sender's own copies."""

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

    def __init__(self, service: BusService, content: ContentInspector, directory: Lookup) -> None:
        self.service = service
        self.content = content
        self.directory = directory

    async def sent_copy(self, event: MessageReceived, headers: dict[str, str]) -> None:
        """A message one of our hosted people or services sent at submission: a copy for its own
        mailbox's Sent folder (stored as ``<queue id>.sent``). Applicative mailboxes keep none."""
        found = await self.directory(event.mail_from, headers)
        if found is None:  # the routing is retried; the deliveries already published are deduplicated
            raise UnavailableError("directory not available to find the sender's mailbox")
        hosted = found.mailbox_found and found.domain_mode == DomainMode.DOMAIN_MODE_SAAS
        if not hosted or found.mailbox_status != MailboxStatus.MAILBOX_STATUS_ACTIVE:
            return
        if found.mailbox_type == MailboxType.MAILBOX_TYPE_APP:
            return
        copy = DeliveryRequested(
            message_id=f"{event.message_id}.sent",
            mail_from=event.mail_from,
            recipients=[
                Recipient(
                    address=event.mail_from.lower(),
                    route=Route(kind=RouteKind.ROUTE_KIND_LOCAL, tenant_id=found.tenant_id),
                )
            ],
            body=event.body,
            received_at=event.received_at,
            folder=SENT,
        )
        await self.service.publish(
            subjects.DELIVER_LOCAL, encode(copy), {**headers, hdr.MSG_ID: f"{event.message_id}:sent"}
        )

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
        if event.submitted and event.mail_from:
            await self.sent_copy(event, headers)
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
