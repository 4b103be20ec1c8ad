"""Every SMTP reply ingress gives, named once (naming: S<code>_<MEANING>)."""

from __future__ import annotations

from mss.core import rules

S235_AUTHENTICATED = "235 2.7.0 Authentication successful"
S250_SENDER_OK = "250 2.1.0 Sender OK"
S250_RECIPIENT_OK = "250 2.1.5 Recipient OK"
S250_RECIPIENT_NOTED = (
    "250 2.1.5 Recipient noted; outside the MSSante trust space, the message will be refused"
)
S451_POLICY_UNAVAILABLE = "451 4.4.3 Policy service not available, try again later"
S451_NOT_QUEUED = "451 4.3.0 Message not queued, try again later"
S451_NOT_SCANNED = "451 4.3.0 Message not scanned for malware, try again later"
S452_TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
S530_STARTTLS_FIRST = "530 5.7.0 Must issue a STARTTLS command first"
S503_NO_MAIL = "503 5.5.1 Error: need MAIL command"
S421_TLS_FAILED = "421 4.7.0 TLS handshake failed, closing connection"
S421_INTERNAL = "421 4.3.0 Internal error, closing connection"
S421_TOO_MANY_AUTH_FAILURES = "421 4.7.0 Too many failed authentications, closing connection"
S421_TOO_MANY_REFUSALS = "421 4.7.0 Too many refused commands from your address, try again later"
S454_AUTH_UNAVAILABLE = "454 4.7.0 Temporary authentication failure, try again later"
S454_AUTH_THROTTLED = "454 4.7.0 Too many failed authentications, try again later"
S501_BAD_BASE64 = "501 5.5.2 Cannot decode base64"
S501_BAD_PLAIN = "501 5.5.2 Malformed PLAIN response"
S501_BAD_XOAUTH2 = "501 5.5.2 Malformed XOAUTH2 response"
S535_INVALID = "535 5.7.8 Authentication credentials invalid"
S554_NO_VALID_RECIPIENTS = "554 5.5.1 Error: no valid recipients"


def queued(message_id: str) -> str:
    """The reply to end-of-DATA once the message is durably accepted."""
    return f"250 2.0.0 Ok: queued as {message_id}"


def verdict(code: int, enhanced: str, reason: str) -> str:
    """A reply built from a policy verdict (reason is policy's client-safe text)."""
    safe = " ".join(reason.split())[:200] or "Refused"
    return f"{code} {enhanced} {safe}"


def refused_whole(recipients: list[str], room: int = 400) -> str:
    """The end-of-DATA refusal of a message with recipients outside the trust space, naming as many
    as fit in one reply line (RFC 5321: 512 octets)."""
    named: list[str] = []
    for recipient in recipients:
        if sum(len(n) + 4 for n in named) + len(recipient) > room:
            break
        named.append(recipient)
    more = f" and {len(recipients) - len(named)} more" if len(recipients) > len(named) else ""
    listed = ", ".join(f"<{r}>" for r in named)
    return rules.MESSAGE_MIXED.reply(recipients=listed + more)


def too_big(size: int, limit: int, whose: str) -> str:
    """RFC 1870 / RFC 3463: the message exceeds a limit that is not the listener's own."""
    return rules.MESSAGE_TOO_BIG.reply(size=size, limit=limit, whose=whose)


def infected(signature: str) -> str:
    """The refusal of a message in which the scanner found malware."""
    safe = "".join(c for c in signature if c.isprintable())[:100]
    return rules.CONTENT_MALWARE.reply(signature=safe)
