"""aiosmtpd hooks: RCPT verdicts from policy, durable accept at end of DATA.

The only I/O here is the bus: a request to policy per recipient, and at end of DATA the body,
the MessageReceived event and the audit event, all acknowledged by JetStream before ``250``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import asdict
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP, Envelope, Session, TLSSetupException
from google.protobuf.message import Message
from mss.bus import headers as hdr
from mss.bus import subjects
from mss.bus.blobs import delete_blob, put_blob
from mss.bus.codec import encode, now_timestamp
from mss.bus.service import BusService
from mss.core import rules
from mss.core.errors import UnavailableError
from mss.core.rules import Rule
from mss.core.throttle import FailureLimiter
from mss.core.tls import peer_certificate
from mss.ingress import replies
from mss.ingress.auth import Authenticated
from mss.ingress.headers import summarise
from mss.ingress.limits import declared_too_big, names_xdm, over_quota
from mss.ingress.scan import ClamdScanner
from mss.ingress.settings import IngressSettings
from mss.ingress.transaction import (
    Transaction,
    declared_size,
    null_to_empty,
    peer_ip,
    record_sender,
    sender,
    transaction,
)
from mss.v1 import (
    AuditCode,
    AuditEvent,
    BlobRef,
    ContentCheckReply,
    ContentCheckRequest,
    DsnRequest,
    Listener,
    MessageReceived,
    PeerCertificate,
    Recipient,
    RecipientCheckReply,
    RecipientCheckRequest,
    RecipientStatus,
    SenderCheckReply,
    SenderCheckRequest,
    Verdict,
)
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from prometheus_client import Counter

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Message)

TLS_REFUSED = Counter(
    "mss_ingress_tls_refused",
    "TLS handshakes refused (no, bad, expired or revoked client certificate…)",
    ["listener", "reason"],
)


class IngressHandler:
    """The aiosmtpd handler of one listener (peer operators or submission)."""

    def __init__(self, service: BusService, settings: IngressSettings, listener: Listener.ValueType) -> None:
        self.service = service
        self.settings = settings
        self.listener = listener
        self.scanner = (
            ClamdScanner(settings.scan_clamd, settings.scan_timeout) if settings.scan_clamd else None
        )
        self.unproven = FailureLimiter(settings.unproven_refusals, settings.unproven_window)
        """Refusals of clients that proved nothing, per address: past the limit, 421 and disconnect."""

    offers_auth = False
    """Whether EHLO advertises SMTP AUTH (only the submission listener's handler does)."""

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        """aiosmtpd's EHLO lines, without AUTH where no mechanism is offered."""
        session.host_name = hostname
        lines = (
            responses if self.offers_auth else [line for line in responses if not line.startswith("250-AUTH")]
        )
        return [*lines[:-1], "250-DSN", lines[-1]]  # RFC 3461: see mss.ingress.dsn

    async def handle_exception(self, error: Exception) -> str:
        """A failed TLS handshake is a refusal, counted and logged in one line; anything else is
        our fault, logged with its traceback. The client never sees internal error text."""
        if isinstance(error, TLSSetupException):
            cause = error.__cause__
            reason = getattr(cause, "reason", None) or type(cause).__name__
            detail = cause.verify_message if isinstance(cause, ssl.SSLCertVerificationError) else str(cause)
            TLS_REFUSED.labels(Listener.Name(self.listener), reason).inc()
            log.warning(
                "TLS handshake refused",
                extra={"listener": Listener.Name(self.listener), "reason": reason, "detail": detail},
            )
            return replies.S421_TLS_FAILED
        log.error("SMTP session failed", exc_info=error)
        return replies.S421_INTERNAL

    async def ask(
        self, subject: str, request: Message, kind: type[R], tx: Transaction, timeout: float | None = None
    ) -> R | None:
        """Another service's answer, or None when it does not answer within the bound."""
        return await self.service.ask(
            subject, request, kind, timeout or self.settings.policy_timeout, tx.headers()
        )

    def begin(self, session: Session) -> Transaction:
        """A new transaction, with the span that roots its message's trace."""
        tx = Transaction()
        tx.span = self.service.tracer.start_span(
            "smtp transaction",
            kind=SpanKind.SERVER,
            attributes={"mss.listener": Listener.Name(self.listener), "client.address": peer_ip(session)},
        )
        tx.trace_id = format(tx.span.get_span_context().trace_id, "032x")
        tx.span.set_attribute("mss.queue_id", tx.message_id)
        return tx

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """Require TLS, have policy check the sender, and start a transaction (queue and trace ids).

        Peer operators are identified by their certificate's DN; at submission people send after
        SMTP AUTH and an applicative mailbox with its registered certificate.
        """
        ssl_object = (session.ssl or {}).get("ssl_object")
        if ssl_object is None:
            return replies.S530_STARTTLS_FIRST
        unproven = (
            [f"client:{peer_ip(session)}"]
            if not session.authenticated and not peer_certificate(ssl_object)
            else []
        )
        if unproven and self.unproven.blocked(unproven) is not None:
            assert server.transport is not None
            asyncio.get_running_loop().call_soon(server.transport.close)  # after this reply is written
            return replies.S421_TOO_MANY_REFUSALS
        tx = self.begin(session)
        with trace.use_span(tx.span, end_on_exit=False):
            reply = await self._mail(session, envelope, address, options, ssl_object, tx)
        if not reply.startswith("250"):
            tx.span.end()
            if unproven:
                self.unproven.failed(unproven)
        return reply

    async def _mail(
        self,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
        ssl_object: Any,
        tx: Transaction,
    ) -> str:
        facts = peer_certificate(ssl_object)
        request = SenderCheckRequest(
            message_id=tx.message_id,
            mail_from=null_to_empty(address),
            client_address=peer_ip(session),
            listener=self.listener,
        )
        if facts is not None:
            request.peer_certificate.CopyFrom(PeerCertificate(**asdict(facts)))
        auth = session.auth_data
        if session.authenticated and isinstance(auth, Authenticated):
            request.auth_identity = tx.identity = auth.identity
            request.auth_senders.extend(auth.senders)
        verdict = await self.ask(subjects.SENDER_CHECK, request, SenderCheckReply, tx)
        if verdict is None:
            return replies.S451_POLICY_UNAVAILABLE
        if verdict.verdict != Verdict.VERDICT_ACCEPT:
            return replies.verdict(verdict.smtp_code, verdict.enhanced_code, verdict.reason)
        tx.declared_size = declared_size(options)
        tx.narrow(verdict.max_message_bytes, "the sender's establishment")
        tx.check_content = verdict.check_content
        tx.policy_version = verdict.policy_version
        mail_dsn = getattr(session, "dsn_mail", None)
        if mail_dsn is not None:
            tx.dsn = DsnRequest(ret=mail_dsn.ret, envid=mail_dsn.envid)
        if tx.limit and tx.declared_size > tx.limit:
            return replies.too_big(tx.declared_size, tx.limit, tx.limited_by)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        envelope.mss = tx  # type: ignore[attr-defined]
        return replies.S250_SENDER_OK

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """Ask policy about the recipient; accept only on an explicit verdict."""
        if envelope.mail_from is None:
            return replies.S503_NO_MAIL
        if len(envelope.rcpt_tos) >= self.settings.max_recipients:
            return replies.S452_TOO_MANY_RECIPIENTS
        tx = transaction(envelope)
        request = RecipientCheckRequest(
            message_id=tx.message_id,
            mail_from=sender(envelope),
            recipient=address,
            client_address=peer_ip(session),
            listener=self.listener,
        )
        with trace.use_span(tx.span, end_on_exit=False):
            verdict = await self.ask(subjects.RCPT_CHECK, request, RecipientCheckReply, tx)
        if verdict is None:
            return replies.S451_POLICY_UNAVAILABLE
        if verdict.refuse_whole_message:  # taken now so that the client goes on to DATA, refused there
            tx.refused_whole.append(address)
            envelope.rcpt_tos.append(address)
            return replies.S250_RECIPIENT_NOTED
        if verdict.verdict != Verdict.VERDICT_ACCEPT:
            return replies.verdict(verdict.smtp_code, verdict.enhanced_code, verdict.reason)
        tx.trust_list_version = verdict.trust_list_version
        tx.directory_version = verdict.directory_version
        tx.policy_version = verdict.policy_version
        refused = declared_too_big(tx.declared_size, address, verdict)
        if refused is not None:
            rule, reply = refused
            await self._audit_refused_recipient(envelope, tx, address, rule, reply)
            return reply
        tx.narrow(verdict.max_message_bytes, f"<{address}>")
        if verdict.quota_bytes:
            tx.quotas.append((address, verdict.quota_bytes, verdict.quota_free_bytes))
        tx.check_content = tx.check_content or verdict.check_content
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        rcpt_dsn = getattr(session, "dsn_rcpt", None)
        recipient = Recipient(address=address, route=verdict.route)
        if rcpt_dsn is not None:
            recipient.notify, recipient.orcpt = rcpt_dsn.notify, rcpt_dsn.orcpt
        tx.recipients.append(recipient)
        return replies.S250_RECIPIENT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Store the body and publish MessageReceived durably, then (only then) answer 250."""
        tx = transaction(envelope)
        try:
            with trace.use_span(tx.span, end_on_exit=False):
                reply = await self._data(session, envelope, tx)
            tx.span.set_attribute("smtp.reply", reply[:100])
            return reply
        finally:
            tx.span.end()

    async def _data(self, session: Session, envelope: Envelope, tx: Transaction) -> str:
        content = envelope.original_content
        assert isinstance(content, bytes)
        if tx.refused_whole:
            reason = f"outside the trust space: {', '.join(tx.refused_whole)}; {len(tx.recipients)} inside"
            return await self._refuse(
                envelope, tx, rules.MESSAGE_MIXED, replies.refused_whole(tx.refused_whole), reason
            )
        if not tx.recipients:
            return replies.S554_NO_VALID_RECIPIENTS
        if tx.limit and len(content) > tx.limit:
            reason = f"{len(content)} bytes, over the limit of {tx.limited_by}"
            reply = replies.too_big(len(content), tx.limit, tx.limited_by)
            return await self._refuse(envelope, tx, rules.MESSAGE_TOO_BIG, reply, reason)
        for address, quota, free in tx.quotas:
            over = over_quota(len(content), address, quota, free)
            if over is not None:
                rule, reply = over
                reason = f"{len(content)} bytes for <{address}>, {free} of its quota of {quota} bytes free"
                return await self._refuse(envelope, tx, rule, reply, reason)
        unscanned = ""
        if self.scanner is not None:
            try:
                found = await self.scanner.scan(content)
            except UnavailableError as exc:
                log.error("message not scanned", extra={"message_id": tx.message_id, "error": exc.message})
                if not self.settings.scan_fail_open:
                    return replies.S451_NOT_SCANNED
                found, unscanned = None, f"; not scanned ({exc.message})"
            if found is not None and found.infected:
                return await self._quarantine(envelope, tx, content, found.signature)
        js = self.service.js
        timeout = self.settings.publish_timeout
        try:
            body = await put_blob(js, tx.message_id, content, timeout)
        except Exception as exc:  # bus down or slow: nothing was stored
            return self._not_queued(tx, exc)
        xdm = names_xdm(content)
        if xdm and tx.check_content:
            refused = await self._check_content(envelope, tx, body)
            if refused is not None:
                await self._forget(body)
                return refused
        summary = summarise(content)
        event = MessageReceived(
            message_id=tx.message_id,
            mail_from=sender(envelope),
            recipients=tx.recipients,
            body=body,
            client_address=peer_ip(session),
            helo=session.host_name or "",
            header_message_id=summary.message_id,
            mss_headers=summary.mss,
            disposition_notification=summary.disposition_notification,
            submitted=self.listener == Listener.LISTENER_SUBMISSION,
            xdm_attachment=xdm,
            dsn=tx.dsn,
        )
        record_sender(session, event)
        event.received_at.CopyFrom(now_timestamp())
        headers = {**tx.headers(), hdr.MSG_ID: tx.message_id}
        auditor = self.service.auditor
        accepted = auditor.event(
            code=AuditCode.AUDIT_CODE_MESSAGE_ACCEPTED,
            message_id=tx.message_id,
            mail_from=event.mail_from,
            status=RecipientStatus.RECIPIENT_STATUS_QUEUED,
            reply=replies.queued(tx.message_id),
            reason=f"{body.size} bytes from {event.client_address} for {len(tx.recipients)} recipient(s)"
            + (f", authenticated as {tx.identity}" if tx.identity else "")
            + unscanned,
            trust_list_version=tx.trust_list_version,
            directory_version=tx.directory_version,
            policy_version=tx.policy_version,
            header_message_id=summary.message_id,
            trace_id=tx.trace_id,
        )
        published, audited = await asyncio.gather(
            js.publish(subjects.MESSAGE_RECEIVED, encode(event), headers=headers, timeout=timeout),
            auditor.emit(accepted),
            return_exceptions=True,
        )
        if isinstance(published, BaseException):
            await self._forget(body)
            return self._not_queued(tx, published)
        if isinstance(audited, BaseException):  # accepted all the same: the event is durable
            log.error("acceptance not audited", extra={"message_id": tx.message_id})
        log.info(
            "message accepted",
            extra={"message_id": tx.message_id, "size": body.size, "recipients": len(tx.recipients)},
        )
        return replies.queued(tx.message_id)

    async def _quarantine(self, envelope: Envelope, tx: Transaction, content: bytes, signature: str) -> str:
        """Keep an infected message in quarantine (never delivered) and refuse it."""
        try:
            ack = await self.service.js.publish(
                subjects.quarantine(tx.message_id),
                content,
                headers={hdr.MSG_ID: f"quarantine:{tx.message_id}"},
                timeout=self.settings.publish_timeout,
            )
        except Exception as exc:  # no evidence kept: let the client come back later
            return self._not_queued(tx, exc)
        where = f"quarantined in {ack.stream} #{ack.seq}"
        reply = replies.infected(signature)
        return await self._refuse(envelope, tx, rules.CONTENT_MALWARE, reply, f"malware {signature}; {where}")

    async def _check_content(self, envelope: Envelope, tx: Transaction, body: BlobRef) -> str | None:
        """Policy's verdict on the stored body's IHE XDM archives: None when accepted, else the reply."""
        request = ContentCheckRequest(message_id=tx.message_id, mail_from=sender(envelope), body=body)
        verdict = await self.ask(
            subjects.CONTENT_CHECK, request, ContentCheckReply, tx, self.settings.content_timeout
        )
        if verdict is None:
            log.error("content not checked", extra={"message_id": tx.message_id})
            return rules.CONTENT_UNCHECKED.reply()
        if verdict.verdict == Verdict.VERDICT_ACCEPT:
            return None
        reply = replies.verdict(verdict.smtp_code, verdict.enhanced_code, verdict.reason)
        if verdict.verdict == Verdict.VERDICT_TEMPFAIL:
            return reply
        tx.policy_version = verdict.policy_version
        rule = rules.RULES.get(verdict.rule, rules.CONTENT_XDM_MALFORMED)
        return await self._refuse(envelope, tx, rule, reply, verdict.reason)

    async def _audit_refused_recipient(
        self, envelope: Envelope, tx: Transaction, address: str, rule: Rule, reply: str
    ) -> None:
        """Audit a recipient refused here (its SIZE= is over a limit policy gave with its verdict)."""
        auditor = self.service.auditor
        event = auditor.event(
            code=AuditCode.AUDIT_CODE_RCPT_REFUSED,
            message_id=tx.message_id,
            recipient=address,
            mail_from=sender(envelope),
            status=RecipientStatus.RECIPIENT_STATUS_REFUSED,
            reply=reply,
            reason=f"declared size {tx.declared_size} bytes",
            trust_list_version=tx.trust_list_version,
            directory_version=tx.directory_version,
            rule=rule.id,
            policy_version=tx.policy_version,
            trace_id=tx.trace_id,
        )
        await self._emit(event, tx)

    async def _refuse(self, envelope: Envelope, tx: Transaction, rule: Rule, reply: str, reason: str) -> str:
        """Refuse the whole message at the end of DATA (nothing is stored) and audit why."""
        auditor = self.service.auditor
        event = auditor.event(
            code=AuditCode.AUDIT_CODE_MESSAGE_REFUSED,
            message_id=tx.message_id,
            mail_from=sender(envelope),
            status=RecipientStatus.RECIPIENT_STATUS_REFUSED,
            reply=reply,
            reason=reason + (f"; authenticated as {tx.identity}" if tx.identity else ""),
            trust_list_version=tx.trust_list_version,
            directory_version=tx.directory_version,
            rule=rule.id,
            policy_version=tx.policy_version,
            trace_id=tx.trace_id,
        )
        await self._emit(event, tx)
        return reply

    async def _emit(self, event: AuditEvent, tx: Transaction) -> None:
        """Audit a refusal (refused all the same when the audit stream does not answer)."""
        try:
            await self.service.auditor.emit(event)
        except Exception:
            log.error("refusal not audited", extra={"message_id": tx.message_id})

    def _not_queued(self, tx: Transaction, exc: BaseException) -> str:
        log.error("message not queued", extra={"message_id": tx.message_id, "error": type(exc).__name__})
        return replies.S451_NOT_QUEUED

    async def _forget(self, body: Any) -> None:
        """Best effort: remove a stored body whose event could not be published."""
        try:
            await delete_blob(self.service.js, body)
        except Exception:
            log.warning("orphan body left to expire", extra={"location": body.location})
