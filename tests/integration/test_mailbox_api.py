"""The hosted-mailbox API a webmail or an IMAP gateway uses: list by folder, fetch, flag, move and
delete, each only for an identity the directory lets act for the mailbox (its owner, by address
or RPPS, and the people an organisational mailbox is delegated to); guessed ids give nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import nats
import pytest
from google.protobuf.message import Message
from mss.bus import subjects
from mss.bus.codec import decode, encode
from mss.directory.app import build as build_directory
from mss.directory.seed import apply_seed, load_seed
from mss.directory.settings import DirectorySettings
from mss.storage.app import build as build_storage
from mss.storage.mailbox import store, usage
from mss.storage.settings import StorageSettings
from mss.testing.fixtures import DEMO, RunningNats
from mss.testing.inprocess import running
from mss.v1 import (
    MailboxListReply,
    MailboxListRequest,
    MessageDeleteReply,
    MessageDeleteRequest,
    MessageFetchReply,
    MessageFetchRequest,
    MessageUpdateReply,
    MessageUpdateRequest,
)

pytestmark = pytest.mark.integration

JEAN = "jean.martin@chu-demo.mssante.fr"
JEAN_RPPS = "RPPS 10001234567"
CARDIO = "cardiologie@chu-demo.mssante.fr"  # delegated to Jean
CLAIRE = "claire.durand@ch-exemple.mssante.fr"  # another establishment


@pytest.fixture
async def api(nats_server: RunningNats, database_url: str, bus: nats.NATS) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    async with pool.acquire() as conn:
        await apply_seed(conn, load_seed(DEMO / "seed.yaml"))
        await conn.execute("DELETE FROM stored_messages WHERE mailbox = ANY($1::text[])", [JEAN, CARDIO])
    common: dict[str, Any] = {"nats_url": nats_server.url, "http_port": 0, "database_url": database_url}
    try:
        async with (
            running(build_directory(DirectorySettings(**common))),
            running(build_storage(StorageSettings(**common))),
        ):
            yield pool
    finally:
        await pool.close()


async def ask(bus: nats.NATS, subject: str, request: Message, kind: type[Any]) -> Any:
    return decode(kind, (await bus.request(subject, encode(request), timeout=5)).data)


async def put(pool: asyncpg.Pool, mailbox: str, message_id: str, content: bytes) -> None:
    fields = {"tenant_id": "chu-demo", "mail_from": "a@autre-operateur.mssante.fr", "sha256": "x"}
    assert await store(pool, mailbox=mailbox, message_id=message_id, content=content, **fields)


async def test_the_owner_and_delegates_see_a_mailbox_and_no_one_else(
    api: asyncpg.Pool, bus: nats.NATS
) -> None:
    await put(api, JEAN, "01JEAN1", b"Subject: 1\r\n\r\none\r\n")
    await put(api, CARDIO, "01CARDIO1", b"Subject: 2\r\n\r\ntwo\r\n")

    async def listed(identity: str, mailbox: str) -> MailboxListReply:
        return await ask(
            bus,
            subjects.MAILBOX_LIST,
            MailboxListRequest(identity=identity, mailbox=mailbox),
            MailboxListReply,
        )

    assert [e.message_id for e in (await listed(JEAN, JEAN)).entries] == ["01JEAN1"]
    assert [e.message_id for e in (await listed(JEAN_RPPS, JEAN)).entries] == ["01JEAN1"]
    assert [e.message_id for e in (await listed(JEAN, CARDIO)).entries] == ["01CARDIO1"]  # delegated
    for identity, mailbox in ((CLAIRE, JEAN), (CARDIO, JEAN), ("", JEAN), ("RPPS 99999999999", JEAN)):
        refused = await listed(identity, mailbox)
        assert (list(refused.entries), refused.error) == ([], "no such mailbox for this identity")
    guessed = await ask(
        bus,
        subjects.MESSAGE_FETCH,
        MessageFetchRequest(identity=CLAIRE, mailbox=JEAN, message_id="01JEAN1"),
        MessageFetchReply,
    )
    assert (guessed.found, guessed.content) == (False, b"")
    fetched = await ask(
        bus,
        subjects.MESSAGE_FETCH,
        MessageFetchRequest(identity=JEAN, mailbox=JEAN, message_id="01JEAN1"),
        MessageFetchReply,
    )
    assert (fetched.found, fetched.content) == (True, b"Subject: 1\r\n\r\none\r\n")


async def test_flags_folders_and_deletion_with_the_quota_given_back(
    api: asyncpg.Pool, bus: nats.NATS
) -> None:
    await put(api, JEAN, "01READ", b"x" * 100)
    await put(api, JEAN, "01KEEP", b"y" * 50)
    read = await ask(
        bus,
        subjects.MESSAGE_UPDATE,
        MessageUpdateRequest(
            identity=JEAN, mailbox=JEAN, message_id="01READ", add_flags=["\\Seen", "\\Flagged"]
        ),
        MessageUpdateReply,
    )
    assert (read.found, list(read.entry.flags), read.entry.folder) == (True, ["\\Flagged", "\\Seen"], "INBOX")
    moved = await ask(
        bus,
        subjects.MESSAGE_UPDATE,
        MessageUpdateRequest(
            identity=JEAN, mailbox=JEAN, message_id="01READ", remove_flags=["\\Flagged"], folder="Archive"
        ),
        MessageUpdateReply,
    )
    assert (list(moved.entry.flags), moved.entry.folder) == (["\\Seen"], "Archive")
    inbox = await ask(
        bus,
        subjects.MAILBOX_LIST,
        MailboxListRequest(identity=JEAN, mailbox=JEAN, folder="INBOX"),
        MailboxListReply,
    )
    assert [e.message_id for e in inbox.entries] == ["01KEEP"]
    bad = await ask(
        bus,
        subjects.MESSAGE_UPDATE,
        MessageUpdateRequest(identity=JEAN, mailbox=JEAN, message_id="01KEEP", folder='a"b'),
        MessageUpdateReply,
    )
    assert (bad.found, bad.error) == (False, "invalid flag or folder name 'a\"b'")
    before = await usage(api, JEAN)
    refused = await ask(
        bus,
        subjects.MESSAGE_DELETE,
        MessageDeleteRequest(identity=CLAIRE, mailbox=JEAN, message_id="01READ"),
        MessageDeleteReply,
    )
    assert (refused.found, refused.error) == (False, "no such mailbox for this identity")
    deleted = await ask(
        bus,
        subjects.MESSAGE_DELETE,
        MessageDeleteRequest(identity=JEAN, mailbox=JEAN, message_id="01READ"),
        MessageDeleteReply,
    )
    assert deleted.found
    after = await usage(api, JEAN)
    assert (before.used_bytes - after.used_bytes, before.messages - after.messages) == (100, 1)
