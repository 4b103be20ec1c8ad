"""Inspection of accepted messages' content, off the SMTP dialogue: IHE XDM archives (R-MSG-3).

Each archive found is audited (CONTENT_INSPECTED) with its documents and problems; the patient it
is about is recorded as a keyed hash (HMAC-SHA256 with ``MSS_POLICY_PATIENT_HASH_KEY``) so that an
audit request "what did we exchange about this patient?" can find it, while the INS itself is
never stored. A malformed archive is flagged, not blocked (the message is already accepted).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from mss.bus.blobs import get_blob
from mss.bus.codec import decode, encode
from mss.bus.service import BusService
from mss.core import rules
from mss.core.errors import DataError
from mss.core.patients import patient_hash
from mss.core.tls import DnMatch
from mss.policy.domain import mdn
from mss.policy.domain.refusal import refusal
from mss.policy.domain.trustlist import TrustList
from mss.policy.domain.xdm import XdmReport, inspect
from mss.v1 import AuditCode, ContentCheckReply, ContentCheckRequest, MessageReceived, Verdict

log = logging.getLogger(__name__)


def summary(report: XdmReport) -> str:
    """One line for the audit trail (never the patient identifier)."""
    text = (
        f"IHE_XDM: {report.archives} archive(s), {report.documents} document(s),"
        f" {len(report.patients)} patient(s)"
    )
    return text + (f"; malformed: {'; '.join(report.problems)}" if report.malformed else "")


class ContentInspector:
    """Reads the body of an accepted message and audits what its XDM archives say."""

    def __init__(
        self,
        service: BusService,
        key: bytes,
        policy_version: str,
        trust: Callable[[], TrustList],
        match: DnMatch,
    ) -> None:
        self.service = service
        self.key = key
        self.policy_version = policy_version
        self.trust = trust
        self.match = match

    async def check(self, request: ContentCheckRequest) -> ContentCheckReply:
        """The verdict on a stored body for an establishment that refuses malformed XDM archives."""
        try:
            body = await get_blob(self.service.js, request.body)
        except DataError as exc:  # the body is not there (any more): the client will send it again
            log.warning("content not checked", extra={"message_id": request.message_id, "error": exc.message})
            verdict = refusal(ContentCheckReply, rules.CONTENT_UNCHECKED)
        else:
            report = await asyncio.to_thread(inspect, body)
            if report.malformed:
                problems = "; ".join(report.problems)[:200]
                verdict = refusal(ContentCheckReply, rules.CONTENT_XDM_MALFORMED, problems=problems)
            else:
                verdict = ContentCheckReply(
                    verdict=Verdict.VERDICT_ACCEPT,
                    smtp_code=250,
                    enhanced_code="2.6.0",
                    rule="content.accepted",
                )
        verdict.policy_version = self.policy_version
        return verdict

    async def on_check(self, body: bytes, headers: dict[str, str]) -> bytes:
        """NATS request handler."""
        return encode(await self.check(decode(ContentCheckRequest, body)))

    async def disposition(self, event: MessageReceived, trace_id: str) -> None:
        """Link a disposition notification (RFC 8098) to the message it is about, by Message-ID, when it
        comes from the recipient's side; keep any other as an unlinked notification."""
        try:
            body = await get_blob(self.service.js, event.body)
        except DataError as exc:
            log.warning("notification not read", extra={"message_id": event.message_id, "error": exc.message})
            return
        found = await asyncio.to_thread(mdn.read, body)
        if found is None:
            log.info("notification without a usable disposition", extra={"message_id": event.message_id})
            return
        unlinked = mdn.from_recipients_side(event, found.final_recipient, self.trust(), self.match)
        reason = f"{found.disposition} ({found.mode})"
        if unlinked:
            log.info("notification not linked", extra={"message_id": event.message_id, "why": unlinked})
            reason = f"unlinked notification about {found.original_message_id}: {reason}; {unlinked}"
        auditor = self.service.auditor
        await auditor.emit(
            auditor.event(
                code=AuditCode.AUDIT_CODE_DISPOSITION_NOTIFIED,
                message_id=event.message_id,
                mail_from=event.mail_from,
                recipient=found.final_recipient,
                reason=reason,
                original_message_id="" if unlinked else found.original_message_id,
                trace_id=trace_id,
            )
        )

    async def inspect(self, event: MessageReceived, trace_id: str) -> None:
        """Audit the message's XDM archives, if any (a missing body is logged and skipped)."""
        try:
            body = await get_blob(self.service.js, event.body)
        except DataError as exc:
            log.warning("content not inspected", extra={"message_id": event.message_id, "error": exc.message})
            return
        report = await asyncio.to_thread(inspect, body)  # parsing is CPU work: off the event loop
        if not report.archives:
            return
        auditor = self.service.auditor
        hashes = sorted(patient_hash(self.key, p) for p in report.patients) if self.key else []
        for hashed in hashes or [""]:
            await auditor.emit(
                auditor.event(
                    code=AuditCode.AUDIT_CODE_CONTENT_INSPECTED,
                    message_id=event.message_id,
                    mail_from=event.mail_from,
                    reason=summary(report)
                    + ("" if self.key or not report.patients else "; patient not indexed"),
                    patient_hash=hashed,
                    trace_id=trace_id,
                )
            )
