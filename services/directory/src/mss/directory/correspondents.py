"""Who each establishment exchanges with, learnt from policy's routing events (MESSAGE_ROUTED).

A recipient routed to one of our establishments makes the sender its correspondent (received);
a sender of one of our establishments makes the recipient its correspondent (sent), whether the
recipient is another operator's or another establishment's of the GHT. Addresses of the same
establishment are not its correspondents. Counts are at least the
number of messages: a batch redelivered after a crash is counted again.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC
from typing import Any

import asyncpg
from mss.v1 import AuditCode, AuditEvent, RouteKind

_UPSERT = """
INSERT INTO correspondents (tenant_id, address, first_seen, last_seen, sent, received)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $3::timestamptz[], $4::bigint[], $5::bigint[])
ON CONFLICT (tenant_id, address) DO UPDATE SET
    last_seen = greatest(correspondents.last_seen, excluded.last_seen),
    first_seen = least(correspondents.first_seen, excluded.first_seen),
    sent = correspondents.sent + excluded.sent,
    received = correspondents.received + excluded.received
"""
_LIST = """
SELECT c.address, c.first_seen, c.last_seen, c.sent, c.received, m.tenant_id AS ght_tenant, m.status,
       EXISTS (SELECT 1 FROM national_entries n
               WHERE n.version_id = (SELECT version_id FROM national_current) AND n.address = c.address)
         AS national
FROM correspondents c LEFT JOIN mailboxes m ON m.address = c.address
WHERE c.tenant_id = $1 ORDER BY c.last_seen DESC LIMIT $2
"""
_PEER = RouteKind.Name(RouteKind.ROUTE_KIND_PEER)


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def exchanges(events: list[AuditEvent], tenants: dict[str, str]) -> dict[tuple[str, str], list[Any]]:
    """(tenant, correspondent) → [last seen, sent, received] from routing events.

    ``tenants`` maps our domains to their establishment.
    """
    found: dict[tuple[str, str], list[Any]] = {}
    counts: Counter[tuple[str, str, str]] = Counter()
    for event in events:
        if event.code != AuditCode.AUDIT_CODE_MESSAGE_ROUTED or not event.mail_from:
            continue
        sender, recipient = event.mail_from.lower(), event.recipient.lower()
        at = event.at.ToDatetime(tzinfo=UTC)
        sender_tenant = tenants.get(_domain(sender), "")
        recipient_tenant = event.tenant_id if event.reason != _PEER else ""
        sides = ((recipient_tenant, sender, "received"), (sender_tenant, recipient, "sent"))
        for tenant, other, way in sides:
            if not tenant or tenants.get(_domain(other)) == tenant:
                continue
            entry = found.setdefault((tenant, other), [at, 0, 0])
            entry[0] = max(entry[0], at)
            counts[(tenant, other, way)] += 1
    for (tenant, other, way), count in counts.items():
        found[(tenant, other)][1 if way == "sent" else 2] += count
    return found


async def record(pool: asyncpg.Pool, events: list[AuditEvent], tenants: dict[str, str]) -> None:
    """Add a batch of audit events to the correspondents of each establishment (``tenants``: our
    domains to their establishment, from the registry in memory)."""
    found = exchanges(events, tenants)
    if not found:
        return
    keys = list(found)
    await pool.execute(
        _UPSERT,
        [k[0] for k in keys],
        [k[1] for k in keys],
        [found[k][0] for k in keys],
        [found[k][1] for k in keys],
        [found[k][2] for k in keys],
    )


async def correspondents(pool: asyncpg.Pool, tenant_id: str, limit: int = 1000) -> list[dict[str, Any]]:
    """The establishment's correspondents, most recent first, and how each is reachable.

    ``equipped`` is true when the address is an MSSanté mailbox we know: one of the GHT's (not
    deleted) or one of the national directory mirror in force.
    """
    rows = await pool.fetch(_LIST, tenant_id, limit)
    return [
        {
            "address": r["address"],
            "first_seen": r["first_seen"].isoformat(),
            "last_seen": r["last_seen"].isoformat(),
            "sent": r["sent"],
            "received": r["received"],
            "equipped": (r["ght_tenant"] is not None and r["status"] != "deleted") or r["national"],
            "known_as": _known_as(r),
        }
        for r in rows
    ]


def _known_as(row: asyncpg.Record) -> str:
    if row["ght_tenant"] is not None:
        return "GHT mailbox"
    return "national directory" if row["national"] else "unknown"
