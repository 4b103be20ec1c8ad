"""The egress service: relays deliveries to smarthosts and peer operators, per recipient."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict
from email.utils import formatdate

from faststream.nats import NatsMessage
from mss.bus import headers as hdr
from mss.bus import streams, subjects
from mss.bus.blobs import get_blob
from mss.bus.codec import encode
from mss.bus.headers import trace_headers
from mss.bus.service import BusService
from mss.bus.work import Retry, work_consumer
from mss.core.tls import PeerCertificate as TlsEvidence
from mss.core.tls import client_context, dn_matches
from mss.egress.domain.outcome import Outcome, RecipientResult, parse_hop, retry_delay
from mss.egress.relay import Attempt, Hop, relay
from mss.egress.settings import EgressSettings
from mss.v1 import (
    AuditCode,
    DeliveryRequested,
    OperatorLookupReply,
    OperatorLookupRequest,
    PeerCertificate,
    Recipient,
    RecipientStatus,
    RouteKind,
)

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
        files = settings.tls_files()
        self.tls = client_context(files) if files is not None else None

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
        groups: dict[tuple[str | None, int, str], list[Recipient]] = defaultdict(list)
        for recipient in request.recipients:  # one transaction per hop (and per operator domain)
            route = recipient.route.kind
            domain = (
                recipient.address.rpartition("@")[2].lower() if route == RouteKind.ROUTE_KIND_PEER else ""
            )
            groups[(self.next_hop(recipient), route, domain)].append(recipient)
        expired = time.time() - request.received_at.seconds > self.settings.max_lifetime
        deferred: list[Recipient] = []
        for (hop, kind, _), recipients in groups.items():
            done = await self.attempt(hop, kind, request, recipients, content, headers)
            for result, recipient in zip(done.results, recipients, strict=True):
                outcome, reply = result.outcome, result.reply
                if outcome is Outcome.DEFERRED and expired:
                    outcome, reply = Outcome.BOUNCED, f"{reply} (message lifetime exceeded)"
                if outcome is Outcome.DEFERRED:
                    deferred.append(recipient)
                await self.audit(request, recipient, outcome, reply, hop or "", attempt, trace_id, done.tls)
        if deferred:
            await self.requeue(request, deferred, attempt, headers)

    async def audit(
        self,
        request: DeliveryRequested,
        recipient: Recipient,
        outcome: Outcome,
        reply: str,
        hop: str,
        attempt: int,
        trace_id: str,
        tls: TlsEvidence | None,
    ) -> None:
        """One audit event per recipient and attempt, with the TLS evidence of the hop."""
        code, status = _AUDIT[outcome]
        event = self.service.auditor.event(
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
        if tls is not None:
            event.tls.CopyFrom(PeerCertificate(**asdict(tls)))
        await self.service.auditor.emit(event)

    async def attempt(
        self,
        hop: str | None,
        kind: int,
        request: DeliveryRequested,
        recipients: list[Recipient],
        content: bytes,
        headers: dict[str, str],
    ) -> Attempt:
        """One SMTP transaction to ``hop`` for ``recipients``."""
        addresses = [r.address for r in recipients]
        if hop is None:
            return deferred_all(addresses, "451 4.4.0 No route to the recipient's operator")
        try:
            host, port = parse_hop(hop)
        except ValueError as exc:
            return deferred_all(addresses, f"451 4.3.5 {exc}")
        target = Hop(host, port)
        if kind == RouteKind.ROUTE_KIND_PEER:
            if self.tls is None:
                return deferred_all(addresses, "451 4.7.5 No TLS identity configured toward other operators")
            domain = addresses[0].rpartition("@")[2]
            listed = await self.listed_certificates(domain, headers)
            if listed is None:
                return deferred_all(addresses, "451 4.4.3 Policy not available to check the operator")
            target = Hop(host, port, self.tls, lambda cert: self.refusal(cert, domain, listed))
        return await relay(
            target,
            helo=self.settings.hostname,
            mail_from=request.mail_from,
            recipients=addresses,
            content=content,
            connect_timeout=self.settings.connect_timeout,
            command_timeout=self.settings.command_timeout,
        )

    async def listed_certificates(self, domain: str, headers: dict[str, str]) -> list[str] | None:
        """The certificate DNs the allowed-domain list names for ``domain``; None if policy is silent."""
        found = await self.service.ask(
            subjects.OPERATOR_LOOKUP,
            OperatorLookupRequest(domain=domain),
            OperatorLookupReply,
            self.settings.policy_timeout,
            headers,
        )
        return list(found.certificate_dns) if found is not None else None

    def refusal(self, certificate: TlsEvidence, domain: str, listed: list[str]) -> str | None:
        """Why a verified server certificate is not the operator's of ``domain`` (None: it is)."""
        mode = self.settings.dn_match
        if any(dn_matches(dn, certificate.subject_dn, certificate.common_name, mode) for dn in listed):
            return None
        return f"server certificate {certificate.subject_dn!r} is not listed for {domain}"

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


def deferred_all(addresses: list[str], reply: str) -> Attempt:
    """Every recipient deferred for the same reason."""
    return Attempt([RecipientResult(a, Outcome.DEFERRED, reply) for a in addresses])


def build(settings: EgressSettings) -> BusService:
    """Wire the service."""
    service = BusService("egress", settings, needs=[streams.WORK, streams.BLOBS, streams.AUDIT])
    egress = Egress(service, settings)
    work_consumer(service, streams.EGRESS, DeliveryRequested, egress.on_deliver, workers=settings.workers)
    return service
