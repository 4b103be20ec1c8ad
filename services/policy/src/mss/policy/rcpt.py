"""RCPT-time recipient checks: ask the directory, apply the trust rules, audit the verdict."""

from __future__ import annotations

from collections.abc import Callable

from mss.bus import subjects
from mss.bus.codec import decode, encode
from mss.bus.headers import trace_headers
from mss.bus.service import BusService
from mss.core import rules
from mss.policy.domain.cache import TtlCache
from mss.policy.domain.trustlist import TrustList
from mss.policy.domain.verdicts import (
    apply_mixed_rule,
    decide_quota,
    decide_recipient,
    recipient_limit,
    refuse,
)
from mss.v1 import (
    AddressLookupReply,
    AddressLookupRequest,
    AuditCode,
    Listener,
    MailboxUsageReply,
    MailboxUsageRequest,
    MixedRecipients,
    RecipientCheckReply,
    RecipientCheckRequest,
    RecipientStatus,
    ResolveReply,
    ResolveRequest,
    RouteKind,
    TrustReason,
    Verdict,
)

_AUDIT = {
    Verdict.VERDICT_REFUSE: (AuditCode.AUDIT_CODE_RCPT_REFUSED, RecipientStatus.RECIPIENT_STATUS_REFUSED),
    Verdict.VERDICT_TEMPFAIL: (AuditCode.AUDIT_CODE_RCPT_TEMPFAIL, RecipientStatus.RECIPIENT_STATUS_REFUSED),
}


class RecipientChecker:
    """Answers RecipientCheckRequest with the current allowed-domain list."""

    def __init__(
        self,
        service: BusService,
        trust: Callable[[], TrustList],
        directory_timeout: float,
        cache: TtlCache[AddressLookupReply],
        policy_version: str,
        storage_timeout: float,
    ) -> None:
        self.service = service
        self.current_trust = trust
        self.directory_timeout = directory_timeout
        self.cache = cache
        self.policy_version = policy_version
        self.storage_timeout = storage_timeout

    @property
    def trust(self) -> TrustList:
        """The list in force now (swapped atomically by the holder; nothing awaits between a
        verdict and the version it records, so both come from the same list)."""
        return self.current_trust()

    async def ask_directory(self, address: str, headers: dict[str, str]) -> AddressLookupReply | None:
        """The directory's answer (possibly cached), or None when it does not answer in time."""
        key = address.strip().strip("<>").lower()
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        found = await self.service.ask(
            subjects.DIRECTORY_LOOKUP,
            AddressLookupRequest(address=address),
            AddressLookupReply,
            self.directory_timeout,
            headers,
        )
        if found is None:
            return None
        self.cache.put(key, found)
        return found

    async def sender_rules(
        self, request: RecipientCheckRequest, headers: dict[str, str], verdict: RecipientCheckReply
    ) -> RecipientCheckReply:
        """At submission, the rules of the sender's establishment for recipients of other operators
        (strict: nationally listed only) and outside the trust space (the whole message refused)."""
        if request.listener != Listener.LISTENER_SUBMISSION:
            return verdict
        peer = verdict.route.kind == RouteKind.ROUTE_KIND_PEER
        outside = verdict.rule == rules.RECIPIENT_OUTSIDE.id
        if not peer and not outside:
            return verdict
        sender = await self.ask_directory(request.mail_from, headers)  # once for both rules
        if outside:
            rule = (
                sender.mixed_recipients
                if sender is not None
                else MixedRecipients.MIXED_RECIPIENTS_UNSPECIFIED
            )
            return apply_mixed_rule(verdict, rule)
        if sender is None or not sender.strict_national:
            return verdict
        found = await self.service.ask(
            subjects.RESOLVE,
            ResolveRequest(address=request.recipient),
            ResolveReply,
            self.directory_timeout,
            headers,
        )
        if found is None:
            return refuse(rules.DIRECTORY_UNAVAILABLE)
        if found.entry.reason != TrustReason.TRUST_REASON_NATIONAL_DIRECTORY:
            return refuse(rules.RECIPIENT_NOT_NATIONAL)
        return verdict

    async def quota_rules(
        self, address: str, found: AddressLookupReply, headers: dict[str, str], verdict: RecipientCheckReply
    ) -> RecipientCheckReply:
        """A hosted mailbox with a quota: refused when full, else its free space goes with the verdict
        (ingress checks SIZE= and the message's size against it). Usage is never cached."""
        if not found.quota_bytes or verdict.route.kind != RouteKind.ROUTE_KIND_LOCAL:
            return verdict
        mailbox = address.strip().strip("<>").lower()
        usage = await self.service.ask(
            subjects.MAILBOX_USAGE,
            MailboxUsageRequest(mailbox=mailbox),
            MailboxUsageReply,
            self.storage_timeout,
            headers,
        )
        if usage is None:
            return refuse(rules.STORAGE_UNAVAILABLE)
        return decide_quota(mailbox, found.quota_bytes, usage.used_bytes, verdict)

    async def check(
        self, request: RecipientCheckRequest, headers: dict[str, str], trace_id: str
    ) -> RecipientCheckReply:
        """Decide and return the verdict; refusals are audited here, acceptances by ingress."""
        found = await self.ask_directory(request.recipient, headers)
        if found is None:
            verdict = refuse(rules.DIRECTORY_UNAVAILABLE)
        else:
            verdict = decide_recipient(request.recipient, found, self.trust, request.listener)
            verdict = await self.sender_rules(request, headers, verdict)
            verdict = await self.quota_rules(request.recipient, found, headers, verdict)
            verdict.directory_version = found.directory_version
        verdict.trust_list_version = self.trust.version
        verdict.policy_version = self.policy_version
        if verdict.verdict == Verdict.VERDICT_ACCEPT:
            assert found is not None
            verdict.max_message_bytes = recipient_limit(request.recipient, found)
            verdict.check_content = found.domain_hosted and found.refuse_malformed_xdm
            return verdict
        code, status = _AUDIT[verdict.verdict]
        await self.service.auditor.emit(
            self.service.auditor.event(
                code=code,
                message_id=request.message_id,
                recipient=request.recipient,
                mail_from=request.mail_from,
                status=status,
                tenant_id=verdict.route.tenant_id,
                reply=f"{verdict.smtp_code} {verdict.enhanced_code} {verdict.reason}",
                reason=verdict.reason
                + (" (the whole message is refused)" if verdict.refuse_whole_message else ""),
                trust_list_version=self.trust.version,
                directory_version=verdict.directory_version,
                rule=verdict.rule,
                policy_version=self.policy_version,
                trace_id=trace_id,
            )
        )
        return verdict

    async def on_request(self, body: bytes, headers: dict[str, str]) -> bytes:
        """NATS request handler."""
        request = decode(RecipientCheckRequest, body)
        trace_id, headers = trace_headers(headers)
        return encode(await self.check(request, headers, trace_id))
