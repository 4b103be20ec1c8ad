"""Address lookups against PostgreSQL."""

from __future__ import annotations

import asyncpg
from mss.v1 import AddressLookupReply, DomainMode, MailboxStatus, MailboxType

_MODES = {"saas": DomainMode.DOMAIN_MODE_SAAS, "proxy": DomainMode.DOMAIN_MODE_PROXY}
_TYPES = {
    "PER": MailboxType.MAILBOX_TYPE_PER,
    "ORG": MailboxType.MAILBOX_TYPE_ORG,
    "APP": MailboxType.MAILBOX_TYPE_APP,
    "CAB": MailboxType.MAILBOX_TYPE_CAB,
}
_STATUSES = {
    "active": MailboxStatus.MAILBOX_STATUS_ACTIVE,
    "suspended": MailboxStatus.MAILBOX_STATUS_SUSPENDED,
    "deleted": MailboxStatus.MAILBOX_STATUS_DELETED,
}

_QUERY = """
SELECT d.tenant_id, d.mode, d.smarthost, m.type, m.status, m.certificate_dn,
       (SELECT version FROM directory_meta) AS version
FROM domains d
LEFT JOIN mailboxes m ON m.address = $1 AND m.domain = d.name
WHERE d.name = $2
"""


def normalise(address: str) -> tuple[str, str] | None:
    """(address, domain) lowercased, or None when it is not of the form local@domain."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    if not at or not local or not domain:
        return None
    address = f"{local}@{domain}".lower()
    return address, domain.lower()


async def lookup(pool: asyncpg.Pool, address: str) -> AddressLookupReply:
    """What the directory knows of ``address``."""
    parts = normalise(address)
    if parts is None:
        return AddressLookupReply()
    row = await pool.fetchrow(_QUERY, *parts)
    if row is None:
        version = await pool.fetchval("SELECT version FROM directory_meta")
        return AddressLookupReply(directory_version=str(version))
    reply = AddressLookupReply(
        domain_hosted=True,
        tenant_id=row["tenant_id"],
        domain_mode=_MODES[row["mode"]],
        smarthost=row["smarthost"] or "",
        directory_version=str(row["version"]),
    )
    if row["type"] is not None:
        reply.mailbox_found = True
        reply.mailbox_type = _TYPES[row["type"]]
        reply.mailbox_status = _STATUSES[row["status"]]
        reply.certificate_dn = row["certificate_dn"] or ""
    return reply
