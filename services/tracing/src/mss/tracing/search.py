"""Searching the audit store: filters on the message tables that ingestion keeps (migration 0016),
newest first, a page at a time (keyset paging, so a deep page costs what the first does)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mss.core.errors import DataError
from mss.db.pool import Conn
from mss.tracing.accounts import Viewer
from mss.tracing.timeline import status_name
from mss.v1 import RecipientStatus

MAX_PAGE = 100
STATUSES = {status_name(value): value for value in RecipientStatus.values() if value}
"""QUEUED → 1, …: the statuses a search may ask for."""


@dataclass
class Query:
    """One search, as the API reads it; every filter is optional and they all apply."""

    message_id: str = ""
    """A queue id or a Message-ID header."""
    sender: str = ""
    recipient: str = ""
    since: datetime | None = None
    until: datetime | None = None
    status: str = ""
    """Some recipient is in this state: QUEUED, DELIVERED, DEFERRED, BOUNCED or REFUSED."""
    tenant: str = ""
    """One of the viewer's establishments."""
    patient_hashes: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    """Sent by or to one of these (a person's mailboxes, found by RPPS)."""
    limit: int = 50
    before: tuple[datetime, str] | None = None
    """Keyset cursor: the (first_at, message_id) of the last row of the previous page."""

    def check(self) -> None:
        """DataError for a filter that cannot be applied."""
        if self.status and self.status not in STATUSES:
            raise DataError(f"unknown status {self.status!r}: one of {', '.join(STATUSES)}")
        if not 1 <= self.limit <= MAX_PAGE:
            raise DataError(f"limit must be between 1 and {MAX_PAGE}")


def _sql(query: Query, viewer: Viewer) -> tuple[str, list[Any]]:
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    tenants = [query.tenant] if query.tenant else list(viewer.tenants)
    where = [f"m.tenants && {arg(tenants)}::text[]"]
    if query.message_id:
        where.append(
            f"(m.message_id = {arg(query.message_id)} OR m.header_message_id = {arg(query.message_id)})"
        )
    if query.sender:
        where.append(f"m.mail_from = {arg(query.sender.lower())}")
    if query.since:
        where.append(f"m.first_at >= {arg(query.since)}")
    if query.until:
        where.append(f"m.first_at < {arg(query.until)}")
    if query.patient_hashes:
        where.append(f"m.patient_hash = ANY({arg(query.patient_hashes)})")

    def visible() -> str:
        """A recipient the viewer sees: any, of a message its establishment sent; else its own only."""
        mine = arg(list(viewer.tenants))
        return f"(m.sender_tenant = ANY({mine}) OR r.tenant_id = ANY({mine}))"

    if query.recipient or query.status:
        conditions = ["r.message_id = m.message_id", visible()]
        if query.recipient:
            conditions.append(f"r.recipient = {arg(query.recipient.lower())}")
        if query.status:
            conditions.append(f"r.status = {arg(STATUSES[query.status])}")
        where.append(f"EXISTS (SELECT 1 FROM audit_recipients r WHERE {' AND '.join(conditions)})")
    if query.addresses:
        people = arg(query.addresses)
        where.append(
            f"(m.mail_from = ANY({people}) OR EXISTS (SELECT 1 FROM audit_recipients r"
            f" WHERE r.message_id = m.message_id AND {visible()} AND r.recipient = ANY({people})))"
        )
    if query.before:
        where.append(f"(m.first_at, m.message_id) < ({arg(query.before[0])}, {arg(query.before[1])})")
    sql = (
        "SELECT m.message_id, m.first_at, m.last_at, m.mail_from, m.sender_tenant, m.tenants, m.patient_hash,"
        " m.header_message_id"
        f" FROM audit_messages m WHERE {' AND '.join(where)}"
        f" ORDER BY m.first_at DESC, m.message_id DESC LIMIT {arg(query.limit)}"
    )
    return sql, args


async def search(conn: Conn, query: Query, viewer: Viewer) -> dict[str, Any]:
    """One page of messages, each with its recipients as the viewer may see them, and the cursor of
    the next page ("" at the end). ``conn`` reads under row-level security."""
    query.check()
    if query.tenant and query.tenant not in viewer.tenants:
        return {"messages": [], "next": ""}
    sql, args = _sql(query, viewer)
    rows = await conn.fetch(sql, *args)
    ids = [r["message_id"] for r in rows]
    senders = {r["message_id"] for r in rows if r["sender_tenant"] in viewer.tenants}
    recipients: dict[str, list[dict[str, Any]]] = {}
    for r in await conn.fetch(
        "SELECT message_id, recipient, tenant_id, status, attempts, at FROM audit_recipients"
        " WHERE message_id = ANY($1) ORDER BY message_id, recipient",
        ids,
    ):
        if r["message_id"] in senders or r["tenant_id"] in viewer.tenants:
            recipients.setdefault(r["message_id"], []).append(
                {"recipient": r["recipient"], "status": status_name(r["status"]), "attempts": r["attempts"]}
            )
    messages = [
        {
            "message_id": r["message_id"],
            "first_at": r["first_at"].isoformat(),
            "last_at": r["last_at"].isoformat(),
            "mail_from": r["mail_from"],
            "header_message_id": r["header_message_id"],
            "patient_hash": r["patient_hash"] if viewer.sees_content else "",
            "establishments": sorted(set(r["tenants"]) & set(viewer.tenants)),
            "recipients": recipients.get(r["message_id"], []),
        }
        for r in rows
    ]
    last = rows[-1] if len(rows) == query.limit else None
    return {"messages": messages, "next": _cursor(last["first_at"], last["message_id"]) if last else ""}


def _cursor(at: datetime, message_id: str) -> str:
    """The next page's cursor, safe in a URL as it is ("Z" rather than "+00:00")."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z") + "|" + message_id
