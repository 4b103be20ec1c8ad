"""The egress service: relays deliveries to smarthosts and peer operators, per recipient."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import defaultdict
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path

from faststream.nats import NatsMessage
from mss.bus import headers as hdr
from mss.bus import queue, streams, subjects
from mss.bus.blobs import get_blob
from mss.bus.codec import encode
from mss.bus.headers import trace_headers
from mss.bus.reports import send_report
from mss.bus.service import BusService
from mss.bus.work import Retry, work_consumer
from mss.core import dsn
from mss.core.tls import NO_CRL, client_context, dn_matches
from mss.core.tls import PeerCertificate as TlsEvidence
from mss.egress.connections import Connections
from mss.egress.domain.outcome import Outcome, RecipientResult, classify, parse_hop, retry_delay
from mss.egress.domain.windows import Windows
from mss.egress.mx import MxResolver
from mss.egress.operations import QueueOperations
from mss.egress.relay import Attempt, Envelope, Hop, relay
from mss.egress.settings import EgressSettings
from mss.v1 import (
    AuditCode,
    DeliveryRequested,
    OperatorLookupReply,
    OperatorLookupRequest,
    PeerCertificate,
    Recipient,
    RecipientCheckReply,
    RecipientCheckRequest,
    RecipientStatus,
    RouteKind,
    SmarthostTls,
    Verdict,
)

log = logging.getLogger(__name__)

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
        self.tls: ssl.SSLContext | None = None
        self.load_tls()
        if self.tls is not None and settings.tls_crl_file is None:
            log.warning(NO_CRL.format(whose="peer operators' server", setting="MSS_EGRESS_TLS_CRL_FILE"))
        self.windows = Windows(settings.destination_concurrency, settings.destination_concurrency_max)
        self.mx = MxResolver(settings.dns_nameservers, settings.dns_timeout)
        self.smarthost_tls = smarthost_contexts(settings.smarthost_ca_file)
        self.connections = Connections(settings.connection_idle, settings.connections_per_destination)

    def load_tls(self) -> None:
        """Read the TLS files again (a renewed certificate, a new CRL): the next connections use them."""
        files = self.settings.tls_files()
        self.tls = client_context(files) if files is not None else None

    async def reload_tls(self) -> None:
        """Re-read the TLS files; keep the old ones on error."""
        try:
            self.load_tls()
        except Exception:
            log.exception("TLS files not reloaded; the previous ones stay in use")

    async def close_idle_forever(self) -> None:
        """Close connections idle for too long (background job)."""
        while True:
            await asyncio.sleep(max(self.settings.connection_idle / 2, 0.5))
            await self.connections.close_idle()

    async def close_connections(self) -> None:
        """QUIT every kept connection (at shutdown)."""
        await self.connections.close_idle(everything=True)

    def next_hop(self, recipient: Recipient) -> str | None:
        """Where a recipient goes: the smarthost of a proxy domain, or a peer operator's static route,
        else its domain's MX hosts ("mx:<domain>", resolved at each attempt)."""
        if recipient.route.next_hop:
            return recipient.route.next_hop
        if recipient.route.kind == RouteKind.ROUTE_KIND_PEER:
            domain = recipient.address.rpartition("@")[2].lower()
            return self.settings.peer_routes.get(domain) or f"{MX_PREFIX}{domain}"
        return None

    def received_header(self, request: DeliveryRequested) -> bytes:
        """The trace header egress adds on top of the body (RFC 5321 §4.4)."""
        return (
            f"Received: by {self.settings.hostname} (mss) id {request.message_id};\r\n"
            f"\t{formatdate(request.received_at.seconds)}\r\n"
        ).encode("ascii")

    async def on_deliver(self, request: DeliveryRequested, msg: NatsMessage) -> None:
        """Attempt delivery of every recipient; audit each; schedule a retry of the deferred ones
        per destination; report to the sender what it asked to hear of (RFC 3461 NOTIFY)."""
        trace_id, headers = trace_headers(msg.headers)
        attempt = request.previous_attempts + 1
        content = self.received_header(request) + await get_blob(self.service.js, request.body)
        if request.cancelled:
            reply = f"550 5.3.0 Delivery cancelled by the operator: {request.cancelled}"
            for recipient in request.recipients:
                await self.audit(request, recipient, Outcome.BOUNCED, reply, "", attempt, trace_id, None)
            cancelled = [reported(r, reply, "", "failed") for r in request.recipients]
            await self.report(request, cancelled, content, headers, trace_id)
            return
        groups: dict[tuple[str | None, int, str], list[Recipient]] = defaultdict(list)
        for recipient in request.recipients:  # one transaction per hop (and per operator domain)
            route = recipient.route.kind
            domain = (  # a peer's domain, or how a smarthost is secured
                recipient.address.rpartition("@")[2].lower()
                if route == RouteKind.ROUTE_KIND_PEER
                else str(recipient.route.smarthost_tls)
            )
            groups[(self.next_hop(recipient), route, domain)].append(recipient)
        expired = time.time() - request.received_at.seconds > self.settings.max_lifetime
        deferred: dict[str, list[tuple[Recipient, str]]] = defaultdict(list)
        failed: list[dsn.Outcome] = []
        relayed: list[dsn.Outcome] = []
        for (hop, kind, _), recipients in groups.items():
            done = await self.attempt_in_window(hop, kind, request, recipients, content, headers)
            if done is None:  # the destination is at its window: back in a moment, not counted
                await self.later(
                    request, hop or "", recipients, self.settings.destination_busy_delay, headers
                )
                continue
            where = done.host or hop or ""  # the host reached (an MX destination has several)
            for result, recipient in zip(done.results, recipients, strict=True):
                outcome, reply = result.outcome, result.reply
                if outcome is Outcome.DEFERRED and expired:
                    outcome, reply = Outcome.BOUNCED, f"{reply} (message lifetime exceeded)"
                if outcome is Outcome.DEFERRED:
                    deferred[hop or ""].append((recipient, reply))
                elif outcome is Outcome.BOUNCED:
                    failed.append(reported(recipient, reply, where, "failed"))
                elif not done.dsn:  # the next hop will not report: we say it was relayed
                    relayed.append(reported(recipient, reply, where, "relayed"))
                await self.audit(request, recipient, outcome, reply, where, attempt, trace_id, done.tls)
        for hop, waiting in deferred.items():  # retried after a delay growing with the attempts
            await self.later(
                request,
                hop,
                [recipient for recipient, _ in waiting],
                retry_delay(attempt, self.settings.retry_delays),
                headers,
                previous_attempts=attempt,
                last_reply=waiting[0][1],
            )
        for outcomes in (failed, relayed):
            await self.report(request, outcomes, content, headers, trace_id)

    async def report(
        self,
        request: DeliveryRequested,
        outcomes: list[dsn.Outcome],
        content: bytes,
        headers: dict[str, str],
        trace_id: str,
    ) -> None:
        """Report to the sender the outcomes its recipients' NOTIFY asks for."""
        notify = {r.address: r.notify for r in request.recipients}
        await send_report(
            self.service,
            reporting_mta=self.settings.hostname,
            request=request,
            outcomes=[o for o in outcomes if dsn.wanted(notify.get(o.recipient, ""), o.action)],
            content=content,
            headers=headers,
            trace_id=trace_id,
            timeout=self.settings.publish_timeout,
        )

    async def on_report(self, item: DeliveryRequested, msg: NatsMessage) -> None:
        """Route a delivery status notification to the original sender: policy gives the route."""
        trace_id, headers = trace_headers(msg.headers)
        address = item.recipients[0].address
        verdict = await self.service.ask(
            subjects.RCPT_CHECK,
            RecipientCheckRequest(message_id=item.message_id, mail_from="", recipient=address),
            RecipientCheckReply,
            self.settings.policy_timeout,
            headers,
        )
        if verdict is None:
            raise Retry(self.settings.retry_delays[0], "policy not available to route a report")
        if verdict.verdict == Verdict.VERDICT_TEMPFAIL:
            raise Retry(self.settings.retry_delays[0], f"report not routable now: {verdict.reason}")
        if verdict.verdict != Verdict.VERDICT_ACCEPT:  # audited by policy; a report is never reported on
            log.warning(
                "report not deliverable", extra={"message_id": item.message_id, "reason": verdict.reason}
            )
            return
        item.recipients[0].route.CopyFrom(verdict.route)
        local = verdict.route.kind == RouteKind.ROUTE_KIND_LOCAL
        subject = subjects.DELIVER_LOCAL if local else subjects.DELIVER_REMOTE
        auditor = self.service.auditor
        await auditor.emit(
            auditor.event(
                code=AuditCode.AUDIT_CODE_MESSAGE_ROUTED,
                message_id=item.message_id,
                recipient=address,
                status=RecipientStatus.RECIPIENT_STATUS_QUEUED,
                tenant_id=verdict.route.tenant_id,
                reason=f"delivery status notification, {RouteKind.Name(verdict.route.kind)}",
                next_hop=verdict.route.next_hop,
                trace_id=trace_id,
            )
        )
        await self.service.publish(
            subject, encode(item), {**headers, hdr.MSG_ID: f"{item.message_id}:{subject}"}
        )

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

    async def attempt_in_window(
        self,
        hop: str | None,
        kind: int,
        request: DeliveryRequested,
        recipients: list[Recipient],
        content: bytes,
        headers: dict[str, str],
    ) -> Attempt | None:
        """The attempt, if the destination's concurrency window has room (None when it has not);
        the destination's answer widens or narrows the window."""
        if hop is None:
            return await self.attempt(hop, kind, request, recipients, content, headers)
        if not self.windows.acquire(hop):
            return None
        answered = False
        try:
            done = await self.attempt(hop, kind, request, recipients, content, headers)
            answered = any(result.outcome is not Outcome.DEFERRED for result in done.results)
            return done
        finally:
            self.windows.release(hop, answered)

    async def attempt(
        self,
        hop: str | None,
        kind: int,
        request: DeliveryRequested,
        recipients: list[Recipient],
        content: bytes,
        headers: dict[str, str],
    ) -> Attempt:
        """One SMTP transaction to ``hop`` for ``recipients`` (to another operator without a static
        route: to its MX hosts in order of preference, the next when one cannot be reached)."""
        addresses = [r.address for r in recipients]
        if hop is None:
            return all_of(addresses, "451 4.4.0 No route to the recipient's operator")
        if hop.startswith(MX_PREFIX):
            found = await self.mx.hops(hop.removeprefix(MX_PREFIX))
            if found.reply:
                return all_of(addresses, found.reply)
            port = self.settings.mx_port
            candidates = [(f"{name}:{port}", f"{address}:{port}") for name, address in found.hosts]
        else:
            candidates = [(hop, hop)]
        done = all_of(addresses, "451 4.4.0 No route to the recipient's operator")
        for name, address in candidates:
            done = replace(
                await self.attempt_host(address, kind, request, recipients, content, headers), host=name
            )
            if not all(r.reply.startswith("451 4.4.1 ") for r in done.results):  # reached: no other MX
                break
        return done

    async def attempt_host(
        self,
        hop: str,
        kind: int,
        request: DeliveryRequested,
        recipients: list[Recipient],
        content: bytes,
        headers: dict[str, str],
    ) -> Attempt:
        """One SMTP transaction to the host ``hop`` ("host:port")."""
        addresses = [r.address for r in recipients]
        try:
            host, port = parse_hop(hop)
        except ValueError as exc:
            return all_of(addresses, f"451 4.3.5 {exc}")
        choice = recipients[0].route.smarthost_tls
        target = Hop(
            host, port, None if choice == SmarthostTls.SMARTHOST_TLS_NONE else self.smarthost_tls[choice]
        )
        key: tuple[object, ...] = (host, port, int(choice))
        if kind == RouteKind.ROUTE_KIND_PEER:
            if self.tls is None:
                return all_of(addresses, "451 4.7.5 No TLS identity configured toward other operators")
            domain = addresses[0].rpartition("@")[2]
            listed = await self.listed_certificates(domain, headers)
            if listed is None:
                return all_of(addresses, "451 4.4.3 Policy not available to check the operator")
            target = Hop(host, port, self.tls, lambda cert: self.refusal(cert, domain, listed))
            key = (host, port, "peer", domain, tuple(listed))  # checked for this domain, this list
        envelope = Envelope(
            request.mail_from,
            addresses,
            dsn.envelope_options(request.dsn.ret, request.dsn.envid),
            {r.address: dsn.recipient_options(r.notify, r.orcpt) for r in recipients},
        )
        return await relay(
            target,
            helo=self.settings.hostname,
            envelope=envelope,
            content=content,
            connect_timeout=self.settings.connect_timeout,
            command_timeout=self.settings.command_timeout,
            connections=self.connections,
            key=key,
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

    async def later(
        self,
        request: DeliveryRequested,
        hop: str,
        recipients: list[Recipient],
        delay: float,
        headers: dict[str, str],
        **changes: object,
    ) -> None:
        """Schedule ``request`` for ``recipients`` at ``hop`` in ``delay`` seconds, with ``changes``."""
        copy = DeliveryRequested()
        copy.CopyFrom(request)
        del copy.recipients[:]
        copy.recipients.extend(recipients)
        for name, value in changes.items():
            setattr(copy, name, value)
        await queue.schedule(
            self.service.js, hop, copy, datetime.now(UTC) + timedelta(seconds=delay), headers
        )


def reported(recipient: Recipient, reply: str, remote: str, action: str) -> dsn.Outcome:
    """What a report says of one recipient."""
    return dsn.Outcome(recipient.address, reply, remote, action, recipient.orcpt)


def smarthost_contexts(ca_file: Path | None) -> dict[int, ssl.SSLContext]:
    """TLS toward establishments' servers: ENCRYPT (STARTTLS, certificate not checked: internal
    servers have their own) and VERIFY (chain and name checked against ``ca_file``, else the
    system's CAs). UNSPECIFIED is ENCRYPT."""
    encrypt = ssl.create_default_context()
    encrypt.check_hostname = False
    encrypt.verify_mode = ssl.CERT_NONE
    encrypt.minimum_version = ssl.TLSVersion.TLSv1_2
    verify = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    verify.minimum_version = ssl.TLSVersion.TLSv1_2
    return {
        SmarthostTls.SMARTHOST_TLS_UNSPECIFIED: encrypt,
        SmarthostTls.SMARTHOST_TLS_ENCRYPT: encrypt,
        SmarthostTls.SMARTHOST_TLS_VERIFY: verify,
    }


MX_PREFIX = "mx:"
"""A destination resolved through DNS at each attempt: "mx:<domain>"."""


def all_of(addresses: list[str], reply: str) -> Attempt:
    """Every recipient with the same reply of ours ("451 4.4.0 …"): deferred for 4xx, bounced for 5xx."""
    outcome = classify(int(reply[:3]))
    return Attempt([RecipientResult(a, outcome, reply) for a in addresses])


def build(settings: EgressSettings) -> BusService:
    """Wire the service."""
    service = BusService("egress", settings, needs=[streams.WORK, streams.BLOBS, streams.AUDIT])
    egress = Egress(service, settings)
    work_consumer(service, streams.EGRESS, DeliveryRequested, egress.on_deliver, workers=settings.workers)
    work_consumer(service, streams.REPORTS, DeliveryRequested, egress.on_report, workers=4)
    service.background.append(egress.close_idle_forever)
    if settings.tls_reload_interval > 0:
        service.every(settings.tls_reload_interval, egress.reload_tls, now=False)
    service.shutdown.append(egress.close_connections)
    service.respond(subjects.QUEUE, subjects.EGRESS_QUEUE, QueueOperations(service).on_request, 4)
    return service
