"""Queueing a delivery status notification (RFC 3464) to a message's sender.

Egress (failed, relayed) and storage (delivered) build the report with :mod:`mss.core.dsn`, store
it as a body of its own, and publish it on the report work subject, where egress routes it like
any message (policy gives the sender's route). The original message's timeline gets REPORTED.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from mss.bus import headers as hdr
from mss.bus import subjects
from mss.bus.blobs import put_blob
from mss.bus.codec import encode
from mss.bus.service import BusService
from mss.core import dsn
from mss.core.ids import new_queue_id
from mss.v1 import AuditCode, DeliveryRequested, Recipient

log = logging.getLogger(__name__)


async def send_report(
    service: BusService,
    *,
    reporting_mta: str,
    request: DeliveryRequested,
    outcomes: list[dsn.Outcome],
    content: bytes,
    headers: dict[str, str],
    trace_id: str,
    timeout: float,
) -> str | None:
    """Queue the report of ``outcomes`` (one action) to ``request``'s sender; its queue id, or None
    when there is none to send (no outcome, or a null sender: never a report about a report)."""
    if not outcomes:
        return None
    if not request.mail_from:
        log.info("no report to a null sender", extra={"message_id": request.message_id})
        return None
    report_id = new_queue_id()
    now = datetime.now(UTC)
    body = dsn.build(
        reporting_mta=reporting_mta,
        sender=request.mail_from,
        queue_id=request.message_id,
        arrival=request.received_at.ToDatetime(tzinfo=UTC),
        now=now,
        outcomes=outcomes,
        content=content,
        boundary=f"{report_id}/{reporting_mta}",
        envid=request.dsn.envid,
        full=request.dsn.ret == "FULL",
    )
    item = DeliveryRequested(
        message_id=report_id,
        mail_from="",
        recipients=[Recipient(address=request.mail_from)],
        body=await put_blob(service.js, report_id, body, timeout),
    )
    item.received_at.FromDatetime(now)
    action = outcomes[0].action
    key = f"report:{request.message_id}:{action}:{request.previous_attempts + 1}:{outcomes[0].recipient}"
    await service.publish(subjects.REPORT, encode(item), {**headers, hdr.MSG_ID: key})
    await service.auditor.emit(
        service.auditor.event(
            code=AuditCode.AUDIT_CODE_REPORTED,
            message_id=request.message_id,
            mail_from=request.mail_from,
            reason=f"delivery status notification {report_id} to <{request.mail_from}>"
            f" for {len(outcomes)} recipient(s): {action}",
            trace_id=trace_id,
        )
    )
    return report_id
