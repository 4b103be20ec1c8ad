"""Retention of hosted message content: each establishment may keep its mailboxes' messages for a
number of days (``tenants.content_retention_days``; none: until their owners delete them). A legal
hold suspends it. Each expired message is audited, then deleted, in one transaction that holds its
establishment's row: a hold being placed waits for it, or wins before it. The event id is derived
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
_STILL_EXPIRED = """
SELECT 1 FROM stored_messages s JOIN tenants t ON t.id = s.tenant_id
WHERE s.mailbox = $1 AND s.message_id = $2
    AND t.content_retention_days IS NOT NULL AND NOT t.legal_hold
    AND s.stored_at < now() - make_interval(days => t.content_retention_days)
FOR UPDATE OF s, t
"""


async def sweep(pool: asyncpg.Pool, auditor: Auditor, batch: int = 500) -> int:
    """Delete every expired message (checked again under lock: a hold placed meanwhile wins); return
    how many went."""
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
            async with pool.acquire() as conn, conn.transaction():
                if not await conn.fetchval(_STILL_EXPIRED, row["mailbox"], row["message_id"]):
                    continue
                await auditor.emit(event)
                await conn.execute(
                    "DELETE FROM stored_messages WHERE mailbox = $1 AND message_id = $2",
                    row["mailbox"],
                    row["message_id"],
                )
                deleted += 1
        if len(rows) < batch:
            break
    return deleted
