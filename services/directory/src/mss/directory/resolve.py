"""Is an address in the trust space, and why; and address completion (R-DIR-6).

Our registry answers first (from memory), then the national directory mirror (PostgreSQL), then,
for an address in neither, the allowed-domain list, which policy holds (asked over NATS).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable

import asyncpg
from mss.directory.lookup import normalise
from mss.directory.national.entries import NationalEntry
from mss.directory.national.queries import national_entry, search, version_in_force
from mss.directory.registry import Registry
from mss.v1 import (
    DirectoryEntry,
    MailboxStatus,
    MailboxType,
    OperatorLookupReply,
    ResolveReply,
    SearchReply,
    TrustReason,
)

OperatorLookup = Callable[[str], Awaitable[OperatorLookupReply | None]]
"""Ask policy what the allowed-domain list says of a domain (None: no answer in time)."""

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
MAX_RESULTS = 100


def folded(text: str) -> str:
    """Lowercase, without accents: what completion compares."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()


def ours(mailbox: dict[str, object], tenant_id: str) -> DirectoryEntry:
    """The entry of one of our mailboxes."""
    kind, status = str(mailbox["type"]), str(mailbox["status"])
    return DirectoryEntry(
        address=str(mailbox["address"]),
        in_trust_space=status == "active" and kind != "APP",  # applicative mailboxes never receive
        reason=TrustReason.TRUST_REASON_OUR_MAILBOX,
        mailbox_type=_TYPES[kind],
        status=_STATUSES[status],
        display_name=str(mailbox.get("display_name") or ""),
        rpps=str(mailbox.get("owner_rpps") or ""),
        tenant_id=tenant_id,
    )


def national(entry: NationalEntry) -> DirectoryEntry:
    """The entry of a national directory mailbox."""
    person = " ".join(p for p in (entry.civility, entry.first_name, entry.last_name) if p)
    return DirectoryEntry(
        address=entry.address,
        in_trust_space=True,
        reason=TrustReason.TRUST_REASON_NATIONAL_DIRECTORY,
        mailbox_type=_TYPES.get(entry.type, MailboxType.MAILBOX_TYPE_UNSPECIFIED),
        display_name=person or entry.service or entry.structure_name,
        rpps=entry.rpps or "",
        structure_id=entry.structure_id,
        profession=entry.profession_label,
        city=entry.city,
    )


class Resolver:
    """Answers ResolveRequest and SearchRequest."""

    def __init__(self, pool: asyncpg.Pool, registry: Registry, operators: OperatorLookup) -> None:
        self.pool = pool
        self.registry = registry
        self.operators = operators

    async def _national_version(self) -> str:
        version = await version_in_force(self.pool)
        return str(version.id) if version is not None else ""

    async def resolve(self, address: str) -> ResolveReply:
        """Where ``address`` stands in the trust space."""
        snapshot = self.registry.snapshot
        reply = ResolveReply(directory_version=str(snapshot.version))
        parts = normalise(address)
        if parts is None:
            reply.entry.CopyFrom(DirectoryEntry(address=address, reason=TrustReason.TRUST_REASON_OUTSIDE))
            return reply
        address, domain = parts
        hosted = snapshot.domains.get(domain)
        if hosted is not None:
            mailbox = snapshot.mailboxes.get(address)
            if mailbox is not None:
                reply.entry.CopyFrom(ours(mailbox, str(hosted["tenant_id"])))
            else:
                unknown = DirectoryEntry(address=address, reason=TrustReason.TRUST_REASON_UNKNOWN_MAILBOX)
                reply.entry.CopyFrom(unknown)
            return reply
        reply.national_version = await self._national_version()
        found = await national_entry(self.pool, address)
        if found is not None:
            reply.entry.CopyFrom(national(found))
            return reply
        listed = await self.operators(domain)
        entry = DirectoryEntry(address=address)
        if listed is not None:
            reply.trust_list_version = listed.trust_list_version
            entry.in_trust_space = listed.listed
            entry.reason = (
                TrustReason.TRUST_REASON_ALLOWED_DOMAIN_ONLY
                if listed.listed
                else TrustReason.TRUST_REASON_OUTSIDE
            )
        reply.entry.CopyFrom(entry)  # no answer from policy: reason unspecified, not in the trust space
        return reply

    async def search(self, query: str, limit: int) -> SearchReply:
        """Completion: our mailboxes first, then the national mirror; each address once."""
        limit = min(max(limit or 10, 1), MAX_RESULTS)
        wanted = folded(query.strip())
        reply = SearchReply(national_version=await self._national_version())
        if len(wanted) < 2:
            return reply
        snapshot = self.registry.snapshot
        seen: set[str] = set()
        for address, mailbox in sorted(snapshot.mailboxes.items()):
            if mailbox["status"] == "deleted" or mailbox["type"] == "APP":
                continue
            name = folded(str(mailbox.get("display_name") or ""))
            words = name.split()
            if (
                address.startswith(wanted)
                or name.startswith(wanted)
                or any(w.startswith(wanted) for w in words)
            ):
                tenant = snapshot.domains[str(mailbox["domain"])]["tenant_id"]
                reply.entries.append(ours(mailbox, str(tenant)))
                seen.add(address)
                if len(reply.entries) >= limit:
                    return reply
        for entry in await search(self.pool, query, limit):
            if entry.address not in seen:
                reply.entries.append(national(entry))
                seen.add(entry.address)
                if len(reply.entries) >= limit:
                    break
        return reply
