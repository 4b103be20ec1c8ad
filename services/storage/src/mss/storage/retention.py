"""Retention of hosted message content: each establishment may keep its mailboxes' messages for a
number of days (``tenants.content_retention_days``; none: until their owners delete them). A legal
hold suspends it. Each expired message is audited before it is deleted, under an event id derived
from the mailbox and message, so that a sweep cut short and run again records it once."""

from __future__ import annotations

import asyncpg
from mss.bus.audit import Auditor
from mss.v1 import AuditCode

_EXPIRED = """
SELECT s.mailbox, s.message_id, s.tenant_id, t.content_retention_days AS days
FROM stored_messages s JOIN tenants t ON t.id = s.tenant_id
WHERE t.content_retention_days IS NOT NULL AND NOT t.legal_hold
    AND s.stored_at < now() - make_interval(days => t.content_retention_days)
ORDER BY s.stored_at
LIMIT $1
"""
_DELETE = """
DELETE FROM stored_messages s USING tenants t
WHERE t.id = s.tenant_id AND s.mailbox = $1 AND s.message_id = $2
    AND t.content_retention_days IS NOT NULL AND NOT t.legal_hold
    AND s.stored_at < now() - make_interval(days => t.content_retention_days)
"""


async def sweep(pool: asyncpg.Pool, auditor: Auditor, batch: int = 500) -> int:
    """Delete every expired message (re-checked at deletion: a hold placed meanwhile wins); return how
    many went."""
    deleted = 0
    while rows := await pool.fetch(_EXPIRED, batch):
        for row in rows:
            event = auditor.event(
                code=AuditCode.AUDIT_CODE_CONTENT_EXPIRED,
                tenant_id=row["tenant_id"],
                message_id=row["message_id"].removesuffix(".sent"),
                recipient=row["mailbox"],
                reason=f"content retention of {row['days']} days",
            )
            event.event_id = f"expired:{row['mailbox']}:{row['message_id']}"
            await auditor.emit(event)
            if await pool.execute(_DELETE, row["mailbox"], row["message_id"]) == "DELETE 1":
                deleted += 1
        if len(rows) < batch:
            break
    return deleted
