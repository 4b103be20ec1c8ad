"""Every rule that refuses mail, named once: its id (recorded in each verdict and audit event), its
exact SMTP reply, and what it means. ``docs/policy.md`` lists them; a test keeps both in step, and
the table-driven test of the rules (tests/integration/test_policy_rules.py) covers each one.
"""

from __future__ import annotations

from dataclasses import dataclass

RULESET = "2026-11-29"
"""Version of the rule set below; bumped whenever a rule's meaning or reply changes. It is the first
part of every verdict's policy version (the second is a digest of the policy settings in force)."""


@dataclass(frozen=True)
class Rule:
    """One rule: ``text`` may name values given to :meth:`reply` (``{address}``…)."""

    id: str
    code: int
    enhanced: str
    text: str

    @property
    def temporary(self) -> bool:
        """4xx: the client should try again later."""
        return 400 <= self.code < 500

    def reason(self, **values: object) -> str:
        """The reply text, safe to show to the client."""
        return self.text.format(**values)

    def reply(self, **values: object) -> str:
        """The whole SMTP reply line."""
        return f"{self.code} {self.enhanced} {self.reason(**values)}"


def _rule(id: str, code: int, enhanced: str, text: str) -> Rule:
    rule = Rule(id, code, enhanced, text)
    RULES[id] = rule
    return rule


RULES: dict[str, Rule] = {}
"""Every rule by id."""

# MAIL FROM
SENDER_CERTIFICATE_REQUIRED = _rule(
    "sender.certificate-required", 530, "5.7.0", "A client certificate is required"
)
SENDER_AUTHENTICATION_REQUIRED = _rule(
    "sender.authentication-required", 530, "5.7.0", "Authentication required"
)
SENDER_OUTSIDE = _rule("sender.outside", 550, "5.7.1", "Sender domain is outside the MSSante trust space")
SENDER_CERTIFICATE_NOT_LISTED = _rule(
    "sender.certificate-not-listed", 550, "5.7.1", "Client certificate is not listed for the sender's domain"
)
SENDER_NOT_AUTHORISED = _rule("sender.not-authorised", 553, "5.7.1", "Not authorised to send as <{address}>")
SENDER_RATE = _rule("sender.rate", 451, "4.7.1", "Too many messages from this sender, try again later")
DIRECTORY_UNAVAILABLE = _rule(
    "directory.unavailable", 451, "4.4.3", "Directory not available, try again later"
)

# RCPT TO
RECIPIENT_MALFORMED = _rule("recipient.malformed", 553, "5.1.3", "Malformed recipient address")
RECIPIENT_UNKNOWN = _rule("recipient.unknown", 550, "5.1.1", "No such mailbox here")
RECIPIENT_SUSPENDED_TEMPORARY = _rule(
    "recipient.suspended-temporary", 450, "4.2.1", "Mailbox temporarily disabled, try again later"
)
RECIPIENT_SUSPENDED = _rule("recipient.suspended", 550, "5.2.1", "Mailbox disabled")
RECIPIENT_APPLICATIVE = _rule(
    "recipient.applicative", 550, "5.7.1", "Applicative mailboxes do not receive mail"
)
RECIPIENT_RELAY = _rule("recipient.relay", 550, "5.7.1", "Relaying denied: recipient is not hosted here")
RECIPIENT_OUTSIDE = _rule(
    "recipient.outside", 550, "5.7.1", "Recipient domain is outside the MSSante trust space"
)
RECIPIENT_NOT_NATIONAL = _rule(
    "recipient.not-national",
    550,
    "5.1.1",
    "Recipient is not in the national directory (sender's establishment rule)",
)
RECIPIENT_QUOTA_FULL = _rule(
    "recipient.quota-full", 452, "4.2.2", "Mailbox <{address}> is full, try again later"
)
RECIPIENT_QUOTA_EXCEEDED = _rule(
    "recipient.quota-exceeded",
    552,
    "5.2.2",
    "Message larger than the mailbox quota: {size} bytes, the quota of <{address}> is {quota} bytes",
)
STORAGE_UNAVAILABLE = _rule(
    "storage.unavailable", 451, "4.3.0", "Mailbox usage not available, try again later"
)

# End of DATA
MESSAGE_MIXED = _rule(
    "message.mixed", 550, "5.7.1", "Message refused: recipients outside the MSSante trust space: {recipients}"
)
MESSAGE_TOO_BIG = _rule(
    "message.too-big", 552, "5.3.4", "Message too big: {size} bytes, the limit of {whose} is {limit} bytes"
)
CONTENT_MALWARE = _rule("content.malware", 554, "5.7.0", "Message refused: malware detected ({signature})")
CONTENT_UNCHECKED = _rule("content.unchecked", 451, "4.3.0", "Message content not checked, try again later")
CONTENT_XDM_MALFORMED = _rule(
    "content.xdm-malformed", 554, "5.6.0", "Message refused: malformed IHE XDM archive ({problems})"
)
