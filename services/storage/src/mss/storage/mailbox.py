"""Hosted mailbox contents in PostgreSQL: written idempotently, then listed, fetched, flagged, moved
and deleted for the identities the directory lets act for the mailbox (checked by the caller)."""

from __future__ import annotations

from typing import Any

import asyncpg
from mss.v1 import MailboxEntry, MailboxListReply, MailboxUsageReply, MessageFetchReply

INBOX = "INBOX"
_INSERT = """
INSERT INTO stored_messages (mailbox, message_id, tenant_id, mail_from, sha256, size, content, folder)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (mailbox, message_id) DO NOTHING
"""
_ENTRY = "message_id, size, sha256, stored_at, mail_from, folder, flags"
_NAME_CHARS = {chr(c) for c in range(33, 127)} - set('"()*%{]')


def valid_name(name: str) -> bool:
    """A folder or flag name: 1 to 64 printable ASCII characters, none IMAP reserves for syntax."""
    return 0 < len(name) <= 64 and set(name) <= _NAME_CHARS


async def store(
    pool: asyncpg.Pool,
    *,
    mailbox: str,
    message_id: str,
    tenant_id: str,
    mail_from: str,
    sha256: str,
    content: bytes,
    folder: str = INBOX,
) -> bool:
    """Write one message to one mailbox's folder; False when it was already there (redelivery)."""
    status = await pool.execute(
        _INSERT, mailbox.lower(), message_id, tenant_id, mail_from, sha256, len(content), content, folder
    )
    return bool(status.endswith(" 1"))


def entry(row: Any) -> MailboxEntry:
    """One listed message."""
    found = MailboxEntry(
        message_id=row["message_id"],
        size=row["size"],
        sha256=row["sha256"],
        mail_from=row["mail_from"],
        folder=row["folder"],
        flags=sorted(row["flags"]),
    )
    found.stored_at.FromDatetime(row["stored_at"])
    return found


async def list_mailbox(pool: asyncpg.Pool, mailbox: str, folder: str = "") -> MailboxListReply:
    """One mailbox's messages (of one folder, or all), oldest first."""
    rows = await pool.fetch(
        f"SELECT {_ENTRY} FROM stored_messages"  # noqa: S608 (constant column list)
        " WHERE mailbox = $1 AND ($2 = '' OR folder = $2) ORDER BY stored_at, message_id",
        mailbox.lower(),
        folder,
    )
    return MailboxListReply(entries=[entry(row) for row in rows])


async def fetch_message(pool: asyncpg.Pool, mailbox: str, message_id: str) -> MessageFetchReply:
    """One stored message, as received."""
    content = await pool.fetchval(
        "SELECT content FROM stored_messages WHERE mailbox = $1 AND message_id = $2",
        mailbox.lower(),
        message_id,
    )
    if content is None:
        return MessageFetchReply(found=False)
    return MessageFetchReply(found=True, content=bytes(content))


async def update(
    pool: asyncpg.Pool, mailbox: str, message_id: str, add: list[str], remove: list[str], folder: str
) -> MailboxEntry | None:
    """Set and clear flags, move to ``folder`` (empty: stay), in one statement; None when absent."""
    row = await pool.fetchrow(
        "UPDATE stored_messages SET"
        " flags = ARRAY(SELECT DISTINCT f FROM unnest(flags || $3::text[]) f WHERE f <> ALL($4::text[])),"
        " folder = CASE WHEN $5 = '' THEN folder ELSE $5 END"
        " WHERE mailbox = $1 AND message_id = $2"
        " RETURNING message_id, size, sha256, stored_at, mail_from, folder, flags",
        mailbox.lower(),
        message_id,
        add,
        remove,
        folder,
    )
    return entry(row) if row is not None else None


async def delete(pool: asyncpg.Pool, mailbox: str, message_id: str) -> bool:
    """Remove a message for good (the usage trigger gives its space back); False when absent."""
    status = await pool.execute(
        "DELETE FROM stored_messages WHERE mailbox = $1 AND message_id = $2", mailbox.lower(), message_id
    )
    return bool(status.endswith(" 1"))


async def usage(pool: asyncpg.Pool, mailbox: str) -> MailboxUsageReply:
    """What a hosted mailbox holds (kept by a trigger on stored_messages; zero when empty)."""
    row = await pool.fetchrow(
        "SELECT used_bytes, messages FROM mailbox_usage WHERE mailbox = $1", mailbox.lower()
    )
    if row is None:
        return MailboxUsageReply()
    return MailboxUsageReply(used_bytes=row["used_bytes"], messages=row["messages"])
