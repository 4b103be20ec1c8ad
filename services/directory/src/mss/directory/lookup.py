"""Address lookups: what the registry says of one address."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mss.v1 import AddressLookupReply, DomainMode, MailboxStatus, MailboxType, MixedRecipients, SmarthostTls

_MODES = {"saas": DomainMode.DOMAIN_MODE_SAAS, "proxy": DomainMode.DOMAIN_MODE_PROXY}
_TYPES = {
    "PER": MailboxType.MAILBOX_TYPE_PER,
    "ORG": MailboxType.MAILBOX_TYPE_ORG,
    "APP": MailboxType.MAILBOX_TYPE_APP,
    "CAB": MailboxType.MAILBOX_TYPE_CAB,
}
_MIXED = {
    "refuse_whole": MixedRecipients.MIXED_RECIPIENTS_REFUSE_WHOLE,
    "deliver_valid": MixedRecipients.MIXED_RECIPIENTS_DELIVER_VALID,
}
_SMARTHOST_TLS = {
    "encrypt": SmarthostTls.SMARTHOST_TLS_ENCRYPT,
    "verify": SmarthostTls.SMARTHOST_TLS_VERIFY,
    "none": SmarthostTls.SMARTHOST_TLS_NONE,
}
_STATUSES = {
    "active": MailboxStatus.MAILBOX_STATUS_ACTIVE,
    "suspended": MailboxStatus.MAILBOX_STATUS_SUSPENDED,
    "deleted": MailboxStatus.MAILBOX_STATUS_DELETED,
}


def normalise(address: str) -> tuple[str, str] | None:
    """(address, domain) lowercased, or None when it is not of the form local@domain."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    if not at or not local or not domain:
        return None
    address = f"{local}@{domain}".lower()
    return address, domain.lower()


def reply_for(
    domain: Mapping[str, Any] | None, mailbox: Mapping[str, Any] | None, version: int
) -> AddressLookupReply:
    """The lookup reply for a domain row and a mailbox row of ours (either may be missing)."""
    reply = AddressLookupReply(directory_version=str(version))
    if domain is None:
        return reply
    reply.domain_hosted = True
    reply.tenant_id = domain["tenant_id"]
    reply.domain_mode = _MODES[domain["mode"]]
    reply.smarthost = domain["smarthost"] or ""
    reply.smarthost_tls = _SMARTHOST_TLS.get(
        str(domain.get("smarthost_tls")), SmarthostTls.SMARTHOST_TLS_ENCRYPT
    )
    reply.mixed_recipients = _MIXED.get(
        str(domain.get("mixed_recipients")), MixedRecipients.MIXED_RECIPIENTS_UNSPECIFIED
    )
    reply.max_message_bytes = domain.get("max_message_bytes") or 0
    reply.suspended_temporary = domain.get("suspended_reply") == "temporary"
    reply.strict_national = bool(domain.get("strict_national"))
    reply.rate_per_sender = domain.get("rate_per_sender") or 0
    reply.refuse_malformed_xdm = domain.get("malformed_xdm") == "refuse"
    if mailbox is not None and mailbox["domain"] == domain["name"]:
        own = mailbox.get("max_message_bytes") or 0
        if own and (not reply.max_message_bytes or own < reply.max_message_bytes):
            reply.max_message_bytes = own
        reply.mailbox_found = True
        reply.mailbox_type = _TYPES[mailbox["type"]]
        reply.mailbox_status = _STATUSES[mailbox["status"]]
        reply.certificate_dn = mailbox["certificate_dn"] or ""
        if domain["mode"] == "saas":
            reply.quota_bytes = mailbox.get("quota_bytes") or 0
    return reply
