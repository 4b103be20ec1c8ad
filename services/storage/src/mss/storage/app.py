"""The storage service: writes deliveries to hosted mailboxes and serves them back."""

from __future__ import annotations

import logging

import asyncpg
from faststream.nats import NatsMessage
from mss.bus import streams, subjects
from mss.bus.blobs import get_blob
from mss.bus.codec import decode, encode
from mss.bus.headers import trace_headers
from mss.bus.reports import send_report
from mss.bus.service import BusService
from mss.bus.work import work_consumer
from mss.core import dsn
from mss.core.sessions import SessionRefused, SessionVerifier
from mss.db.pool import create_pool
from mss.storage.mailbox import INBOX, delete, fetch_message, list_mailbox, store, update, usage, valid_name
from mss.storage.retention import sweep
from mss.storage.settings import StorageSettings
from mss.v1 import (
    AuditCode,
    DeliveryRequested,
    MailboxesReply,
    MailboxesRequest,
    MailboxListReply,
    MailboxListRequest,
    MailboxUsageRequest,
    MessageDeleteReply,
    MessageDeleteRequest,
    MessageFetchReply,
    MessageFetchRequest,
    MessageUpdateReply,
    MessageUpdateRequest,
    RecipientStatus,
)

log = logging.getLogger(__name__)


class Storage:
    """Handlers of the storage service around one connection pool."""

    def __init__(self, service: BusService, settings: StorageSettings) -> None:
        self.service = service
        self.settings = settings
        self._pool: asyncpg.Pool | None = None
        self.sessions = (
            SessionVerifier.from_file(settings.session_public_key_file)
            if settings.session_public_key_file is not None
            else None
        )
        """Checks the directory's proof of sign-in on every mailbox request (None: refuses them all)."""

    @property
    def pool(self) -> asyncpg.Pool:
        """The connection pool (open once started)."""
        assert self._pool is not None, "storage pool used before start-up"
        return self._pool

    async def open(self) -> None:
        """Open the pool."""
        self._pool = await create_pool(self.settings)

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            await self._pool.close()

    async def on_deliver(self, request: DeliveryRequested, msg: NatsMessage) -> None:
        """Write the message to each recipient's mailbox, then audit each delivery; report it to
        the sender when the recipient's NOTIFY asked for success (RFC 3461)."""
        trace_id, headers = trace_headers(msg.headers)
        content = await get_blob(self.service.js, request.body)
        delivered: list[dsn.Outcome] = []
        for recipient in request.recipients:
            stored = await store(
                self.pool,
                mailbox=recipient.address,
                message_id=request.message_id,
                tenant_id=recipient.route.tenant_id,
                mail_from=request.mail_from,
                sha256=request.body.sha256,
                content=content,
                folder=request.folder or INBOX,
            )
            own_copy = bool(request.folder) and request.folder != INBOX  # the sender's, in Sent
            await self.service.auditor.emit(
                self.service.auditor.event(
                    code=AuditCode.AUDIT_CODE_STORED,
                    message_id=request.message_id.removesuffix(".sent") if own_copy else request.message_id,
                    recipient=recipient.address,
                    mail_from=request.mail_from,
                    tenant_id=recipient.route.tenant_id,
                    status=RecipientStatus.RECIPIENT_STATUS_UNSPECIFIED
                    if own_copy
                    else RecipientStatus.RECIPIENT_STATUS_DELIVERED,
                    reason=f"sender's copy kept in {request.folder}"
                    if own_copy
                    else "stored in hosted mailbox",
                    trace_id=trace_id,
                    attempt=msg.raw_message.metadata.num_delivered or 1,
                )
            )
            if stored and dsn.wanted(recipient.notify, "delivered"):
                reply = "250 2.0.0 stored in the hosted mailbox"
                delivered.append(dsn.Outcome(recipient.address, reply, "", "delivered", recipient.orcpt))
        await send_report(
            self.service,
            reporting_mta=self.settings.hostname,
            request=request,
            outcomes=delivered,
            content=content,
            headers=headers,
            trace_id=trace_id,
            timeout=self.settings.publish_timeout,
        )

    async def on_usage(self, body: bytes, headers: dict[str, str]) -> bytes:
        """MailboxUsageRequest → MailboxUsageReply (asked by policy at RCPT time)."""
        request = decode(MailboxUsageRequest, body)
        return encode(await usage(self.pool, request.mailbox))

    async def may_act_for(
        self,
        request: MailboxListRequest | MessageFetchRequest | MessageUpdateRequest | MessageDeleteRequest,
        headers: dict[str, str],
    ) -> bool | None:
        """Whether the request's session proves a sign-in of an identity the directory lets act for the
        mailbox (None: the directory did not answer). An identity the request merely states is never
        enough: without a valid session, or with one naming someone else, the answer is no."""
        if self.sessions is None:
            return False
        try:
            identity = self.sessions.verify(request.session).identity
        except SessionRefused as exc:
            log.info("mailbox request refused", extra={"reason": str(exc)})
            return False
        if request.identity and request.identity != identity:
            log.info("mailbox request refused", extra={"reason": "identity differs from the session's"})
            return False
        found = await self.service.ask(
            subjects.MAILBOXES,
            MailboxesRequest(identity=identity),
            MailboxesReply,
            self.settings.request_timeout,
            headers,
        )
        return None if found is None else request.mailbox.strip().lower() in found.mailboxes

    async def on_list(self, body: bytes, headers: dict[str, str]) -> bytes:
        """MailboxListRequest → MailboxListReply (nothing for an identity that may not see it)."""
        request = decode(MailboxListRequest, body)
        allowed = await self.may_act_for(request, headers)
        if not allowed:
            return encode(MailboxListReply(error=_REFUSED if allowed is False else _UNAVAILABLE))
        return encode(await list_mailbox(self.pool, request.mailbox, request.folder))

    async def on_fetch(self, body: bytes, headers: dict[str, str]) -> bytes:
        """MessageFetchRequest → MessageFetchReply."""
        request = decode(MessageFetchRequest, body)
        allowed = await self.may_act_for(request, headers)
        if not allowed:
            return encode(MessageFetchReply(error=_REFUSED if allowed is False else _UNAVAILABLE))
        return encode(await fetch_message(self.pool, request.mailbox, request.message_id))

    async def on_update(self, body: bytes, headers: dict[str, str]) -> bytes:
        """MessageUpdateRequest → MessageUpdateReply."""
        request = decode(MessageUpdateRequest, body)
        names = [*request.add_flags, *request.remove_flags, *([request.folder] if request.folder else [])]
        bad = [name for name in names if not valid_name(name)]
        if bad:
            return encode(MessageUpdateReply(error=f"invalid flag or folder name {bad[0]!r}"))
        allowed = await self.may_act_for(request, headers)
        if not allowed:
            return encode(MessageUpdateReply(error=_REFUSED if allowed is False else _UNAVAILABLE))
        found = await update(
            self.pool,
            request.mailbox,
            request.message_id,
            list(request.add_flags),
            list(request.remove_flags),
            request.folder,
        )
        return encode(MessageUpdateReply(found=found is not None, entry=found))

    async def on_delete(self, body: bytes, headers: dict[str, str]) -> bytes:
        """MessageDeleteRequest → MessageDeleteReply."""
        request = decode(MessageDeleteRequest, body)
        allowed = await self.may_act_for(request, headers)
        if not allowed:
            return encode(MessageDeleteReply(error=_REFUSED if allowed is False else _UNAVAILABLE))
        return encode(MessageDeleteReply(found=await delete(self.pool, request.mailbox, request.message_id)))


_REFUSED = "no such mailbox for this identity"
_UNAVAILABLE = "directory not available, try again later"


def build(settings: StorageSettings) -> BusService:
    """Wire the service."""
    service = BusService("storage", settings, needs=[streams.WORK, streams.BLOBS, streams.AUDIT])
    storage = Storage(service, settings)
    service.startup.append(storage.open)
    service.shutdown.append(storage.close)

    async def retain() -> None:
        deleted = await sweep(storage.pool, service.auditor)
        if deleted:
            log.info("expired messages deleted", extra={"count": deleted})

    service.every(settings.retention_interval, retain)
    work_consumer(service, streams.STORAGE, DeliveryRequested, storage.on_deliver, workers=settings.workers)
    service.respond(
        subjects.MAILBOX_USAGE, subjects.STORAGE_QUEUE, storage.on_usage, settings.request_workers
    )
    for subject, handler in (
        (subjects.MAILBOX_LIST, storage.on_list),
        (subjects.MESSAGE_FETCH, storage.on_fetch),
        (subjects.MESSAGE_UPDATE, storage.on_update),
        (subjects.MESSAGE_DELETE, storage.on_delete),
    ):
        service.respond(subject, subjects.STORAGE_QUEUE, handler, settings.request_workers)
    return service
