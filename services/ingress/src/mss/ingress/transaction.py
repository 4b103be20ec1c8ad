"""What ingress keeps of one SMTP transaction (MAIL FROM to end of DATA), and what it reads off the
envelope and the session: the reverse-path, SIZE=, the client's address."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from aiosmtpd.smtp import Envelope, Session
from mss.bus import headers as hdr
from mss.core.ids import new_queue_id, new_trace_id, traceparent
from mss.core.tls import peer_certificate
from mss.ingress.auth import Authenticated
from mss.v1 import DsnRequest, MessageReceived, PeerCertificate, Recipient
from opentelemetry.trace import INVALID_SPAN, Span


@dataclass
class Transaction:
    """What ingress keeps per SMTP transaction (from MAIL FROM to end of DATA)."""

    message_id: str = field(default_factory=new_queue_id)
    trace_id: str = field(default_factory=new_trace_id)
    span: Span = INVALID_SPAN
    """The transaction's span: the root of the message's trace (ended after the end of DATA)."""
    recipients: list[Recipient] = field(default_factory=list)
    trust_list_version: str = ""
    directory_version: str = ""
    identity: str = ""
    """Who authenticated at submission (SMTP AUTH), if anyone."""
    refused_whole: list[str] = field(default_factory=list)
    """Recipients that make the whole message refused at the end of DATA (outside the trust space)."""
    declared_size: int = 0
    """SIZE= given with MAIL FROM (RFC 1870), 0 when none."""
    limit: int = 0
    """Largest message the sender and every accepted recipient take, bytes (0: only the listener's)."""
    limited_by: str = ""
    """Whose limit ``limit`` is, for the refusal text."""
    quotas: list[tuple[str, int, int]] = field(default_factory=list)
    """Accepted recipients with a quota: (address, quota, free bytes at RCPT time)."""
    check_content: bool = False
    """An establishment concerned refuses malformed IHE XDM archives: policy checks them at end of DATA."""
    policy_version: str = ""
    dsn: DsnRequest = field(default_factory=DsnRequest)
    """RET and ENVID given with MAIL FROM."""

    def headers(self) -> dict[str, str]:
        """The trace context of the transaction, for what ingress asks and publishes."""
        context = self.span.get_span_context()
        span_id = format(context.span_id, "016x") if context.is_valid else None
        return {hdr.TRACEPARENT: traceparent(self.trace_id, span_id)}

    def narrow(self, limit: int, whose: str) -> None:
        """Take a sender's or a recipient's limit into account."""
        if limit and (not self.limit or limit < self.limit):
            self.limit, self.limited_by = limit, whose


def transaction(envelope: Envelope) -> Transaction:
    """The transaction attached to an envelope (created at MAIL FROM)."""
    found = getattr(envelope, "mss", None)
    if not isinstance(found, Transaction):
        found = Transaction()
        envelope.mss = found  # type: ignore[attr-defined]
    return found


def null_to_empty(address: str) -> str:
    """The reverse-path as policy and events know it: "" for the null one (aiosmtpd gives "<>",
    and keeps it so in ``envelope.mail_from``, which must stay truthy for its RCPT TO)."""
    return "" if address.strip() == "<>" else address


def sender(envelope: Envelope) -> str:
    """The envelope's reverse-path as policy and events know it ("" for reports: DSN, MDN)."""
    return null_to_empty(envelope.mail_from or "")


def declared_size(options: list[str]) -> int:
    """The SIZE= parameter of MAIL FROM, 0 when absent or malformed (aiosmtpd checked its form)."""
    for option in options:
        name, _, value = option.partition("=")
        if name.upper() == "SIZE" and value.isdigit():
            return int(value)
    return 0


def peer_ip(session: Session) -> str:
    """The client's IP address."""
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) and peer else ""


def record_sender(session: Session, event: MessageReceived) -> None:
    """Record on ``event`` what the sending side proved: its certificate, or its sign-in."""
    ssl_object = (session.ssl or {}).get("ssl_object")
    facts = peer_certificate(ssl_object) if ssl_object is not None else None
    if facts is not None:
        event.peer_certificate.CopyFrom(PeerCertificate(**asdict(facts)))
    auth = session.auth_data
    if session.authenticated and isinstance(auth, Authenticated):
        event.auth_identity = auth.identity
        event.auth_senders.extend(auth.senders)
