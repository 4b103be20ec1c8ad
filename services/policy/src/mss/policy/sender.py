"""MAIL FROM checks (peer operators, submission): audit every refusal with its reason and list version."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mss.bus.codec import decode, encode
from mss.bus.headers import trace_headers
from mss.bus.service import BusService
from mss.core import rules
from mss.core.tls import DnMatch
from mss.policy.domain.rates import RateLimiter
from mss.policy.domain.senders import (
    decide_authenticated_sender,
    decide_peer_sender,
    decide_submission_sender,
    refuse,
)
from mss.policy.domain.trustlist import TrustList
from mss.v1 import (
    AddressLookupReply,
    AuditCode,
    Listener,
    PeerCertificate,
    RecipientStatus,
    SenderCheckReply,
    SenderCheckRequest,
    Verdict,
)

Lookup = Callable[[str, dict[str, str]], Awaitable[AddressLookupReply | None]]
"""Ask the directory about an address (None: no answer in time)."""


class SenderChecker:
    """Answers SenderCheckRequest with the current allowed-domain list."""

    def __init__(
        self,
        service: BusService,
        trust: Callable[[], TrustList],
        match: DnMatch,
        directory: Lookup,
        senders: RateLimiter,
        peers: RateLimiter,
        policy_version: str,
    ) -> None:
        self.service = service
        self.trust = trust
        self.match = match
        self.directory = directory
        self.senders = senders
        self.peers = peers
        self.policy_version = policy_version

    def within_rate(
        self,
        request: SenderCheckRequest,
        certificate: PeerCertificate | None,
        found: AddressLookupReply | None,
    ) -> bool:
        """One more message for this sender: peers by certificate at the operator's rate, our senders
        by identity at their establishment's rate (the operator's when it sets none)."""
        if request.listener == Listener.LISTENER_PEER:
            return self.peers.take(
                certificate.subject_dn if certificate is not None else request.client_address
            )
        rate = found.rate_per_sender if found is not None and found.rate_per_sender else None
        return self.senders.take(request.auth_identity or request.mail_from.lower(), rate)

    async def check(
        self, request: SenderCheckRequest, headers: dict[str, str], trace_id: str
    ) -> SenderCheckReply:
        """Decide; audit refusals."""
        trust = self.trust()
        certificate = request.peer_certificate if request.HasField("peer_certificate") else None
        found: AddressLookupReply | None = None
        if request.listener == Listener.LISTENER_PEER:
            verdict = decide_peer_sender(request.mail_from, certificate, trust, self.match)
        elif request.auth_identity:
            verdict = decide_authenticated_sender(request.mail_from, request.auth_senders)
            if verdict.verdict == Verdict.VERDICT_ACCEPT and request.mail_from:
                found = await self.directory(request.mail_from, headers)
        else:
            found = await self.directory(request.mail_from, headers) if certificate is not None else None
            verdict = decide_submission_sender(request.mail_from, certificate, found)
        if verdict.verdict == Verdict.VERDICT_ACCEPT and found is not None:
            verdict.max_message_bytes = found.max_message_bytes
            verdict.check_content = found.refuse_malformed_xdm
        if verdict.verdict == Verdict.VERDICT_ACCEPT and not self.within_rate(request, certificate, found):
            verdict = refuse(rules.SENDER_RATE)
        verdict.trust_list_version = trust.version
        verdict.policy_version = self.policy_version
        if verdict.verdict != Verdict.VERDICT_ACCEPT:
            auditor = self.service.auditor
            # A client that proved nothing (no sign-in, no certificate) only claims its sender: the
            # claim is recorded as such, never as that person's or establishment's own event.
            proven = bool(request.auth_identity) or certificate is not None
            claim = "" if proven else f"claimed sender <{request.mail_from}>: "
            event = auditor.event(
                code=AuditCode.AUDIT_CODE_SENDER_REFUSED,
                message_id=request.message_id,
                mail_from=request.mail_from if proven else "",
                status=RecipientStatus.RECIPIENT_STATUS_REFUSED,
                reply=f"{verdict.smtp_code} {verdict.enhanced_code} {verdict.reason}",
                reason=f"{claim}{verdict.reason} (client {request.client_address}"
                + (f", authenticated as {request.auth_identity})" if request.auth_identity else ")"),
                trust_list_version=trust.version,
                rule=verdict.rule,
                policy_version=self.policy_version,
                trace_id=trace_id,
            )
            if certificate is not None:
                event.tls.CopyFrom(certificate)
            await auditor.emit(event)
        return verdict

    async def on_request(self, body: bytes, headers: dict[str, str]) -> bytes:
        """NATS request handler."""
        request = decode(SenderCheckRequest, body)
        trace_id, headers = trace_headers(headers)
        return encode(await self.check(request, headers, trace_id))
