"""Every SMTP reply ingress gives, named once (naming: S<code>_<MEANING>)."""

from __future__ import annotations

S250_SENDER_OK = "250 2.1.0 Sender OK"
S250_RECIPIENT_OK = "250 2.1.5 Recipient OK"
S451_POLICY_UNAVAILABLE = "451 4.4.3 Policy service not available, try again later"
S451_NOT_QUEUED = "451 4.3.0 Message not queued, try again later"
S452_TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
S530_STARTTLS_FIRST = "530 5.7.0 Must issue a STARTTLS command first"
S503_NO_MAIL = "503 5.5.1 Error: need MAIL command"
S554_NO_VALID_RECIPIENTS = "554 5.5.1 Error: no valid recipients"


def queued(message_id: str) -> str:
    """The reply to end-of-DATA once the message is durably accepted."""
    return f"250 2.0.0 Ok: queued as {message_id}"


def verdict(code: int, enhanced: str, reason: str) -> str:
    """A reply built from a policy verdict (reason is policy's client-safe text)."""
    safe = " ".join(reason.split())[:200] or "Refused"
    return f"{code} {enhanced} {safe}"
