"""Hosted mailbox contents in PostgreSQL: write idempotently, list and fetch per tenant."""

from __future__ import annotations

import asyncpg
from mss.v1 import MailboxEntry, MailboxListReply, MailboxUsageReply, MessageFetchReply

_INSERT = """
INSERT INTO stored_messages (mailbox, message_id, tenant_id, mail_from, sha256, size, content)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (mailbox, message_id) DO NOTHING
"""


async def store(
    pool: asyncpg.Pool,
    *,
    mailbox: str,
    message_id: str,
    tenant_id: str,
    mail_from: str,
    sha256: str,
    content: bytes,
) -> bool:
    """Write one message to one mailbox; False when it was already there (redelivery)."""
    status = await pool.execute(
        _INSERT, mailbox.lower(), message_id, tenant_id, mail_from, sha256, len(content), content
    )
    return bool(status.endswith(" 1"))


async def list_mailbox(pool: asyncpg.Pool, tenant_id: str, mailbox: str) -> MailboxListReply:
    """The tenant's view of one mailbox, oldest first."""
    rows = await pool.fetch(
        "SELECT message_id, size, sha256, stored_at, mail_from FROM stored_messages"
        " WHERE mailbox = $1 AND tenant_id = $2 ORDER BY stored_at, message_id",
        mailbox.lower(),
        tenant_id,
    )
    reply = MailboxListReply()
    for row in rows:
        entry = MailboxEntry(
            message_id=row["message_id"], size=row["size"], sha256=row["sha256"], mail_from=row["mail_from"]
        )
        entry.stored_at.FromDatetime(row["stored_at"])
        reply.entries.append(entry)
    return reply


async def fetch_message(
    pool: asyncpg.Pool, tenant_id: str, mailbox: str, message_id: str
) -> MessageFetchReply:
    """One stored message, as received, when it belongs to the tenant."""
    content = await pool.fetchval(
        "SELECT content FROM stored_messages WHERE mailbox = $1 AND message_id = $2 AND tenant_id = $3",
        mailbox.lower(),
        message_id,
        tenant_id,
    )
    if content is None:
        return MessageFetchReply(found=False)
    return MessageFetchReply(found=True, content=bytes(content))


async def usage(pool: asyncpg.Pool, mailbox: str) -> MailboxUsageReply:
    """What a hosted mailbox holds (kept by a trigger on stored_messages; zero when empty)."""
    row = await pool.fetchrow(
        "SELECT used_bytes, messages FROM mailbox_usage WHERE mailbox = $1", mailbox.lower()
    )
    if row is None:
        return MailboxUsageReply()
    return MailboxUsageReply(used_bytes=row["used_bytes"], messages=row["messages"])
