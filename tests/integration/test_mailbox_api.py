"""The hosted-mailbox API a webmail or an IMAP gateway uses: list by folder, fetch, flag, move and
delete, each only for an identity the directory lets act for the mailbox (its owner, by address
or RPPS, and the people an organisational mailbox is delegated to), proved by the session the
directory signed at that identity's sign-in; a stated identity alone gets nothing, nor do guessed
ids."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest
from google.protobuf.message import Message
from mss.bus import subjects
from mss.bus.codec import decode, encode
from mss.core.passwords import Cost
from mss.core.sessions import SessionSigner, new_key_files
from mss.directory.app import build as build_directory
from mss.directory.password import set_password
from mss.directory.seed import apply_seed, load_seed
from mss.directory.settings import DirectorySettings
from mss.storage.app import build as build_storage
from mss.storage.mailbox import store, usage
from mss.storage.settings import StorageSettings
from mss.testing.fixtures import DEMO, RunningNats
from mss.testing.inprocess import running
from mss.v1 import (
    AuthenticateReply,
    AuthenticateRequest,
    AuthMechanism,
    AuthOutcome,
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

PASSWORD = "mot de passe de Jean"
FAST = Cost(log2_n=10)
JEAN = "jean.martin@chu-demo.mssante.fr"
JEAN_RPPS = "RPPS 10001234567"
CARDIO = "cardiologie@chu-demo.mssante.fr"  # delegated to Jean
CLAIRE = "claire.durand@ch-exemple.mssante.fr"  # another establishment


@dataclass
class Api:
    """The directory and storage running, their database, and the directory's session key."""

    pool: asyncpg.Pool
    signer: SessionSigner

    def session(self, identity: str) -> str:
        """A session as the directory signs it when ``identity`` signs in."""
        return self.signer.sign(identity)


@pytest.fixture
async def api(
    nats_server: RunningNats, database_url: str, bus: nats.NATS, tmp_path: Path
) -> AsyncIterator[Api]:
    private, public = tmp_path / "session-key.pem", tmp_path / "session-key.pub.pem"
    new_key_files(private, public)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    async with pool.acquire() as conn:
        await apply_seed(conn, load_seed(DEMO / "seed.yaml"))
        await conn.execute("DELETE FROM stored_messages WHERE mailbox = ANY($1::text[])", [JEAN, CARDIO])
        await set_password(conn, JEAN, PASSWORD, FAST)
    common: dict[str, Any] = {"http_port": 0, "database_url": database_url}
    directory = DirectorySettings(**common, **nats_server.settings("directory"), session_key_file=private)
    storage = StorageSettings(**common, **nats_server.settings("storage"), session_public_key_file=public)
    try:
        async with running(build_directory(directory)), running(build_storage(storage)):
            yield Api(pool, SessionSigner.from_file(private, 60))
    finally:
        await pool.close()


async def ask(bus: nats.NATS, subject: str, request: Message, kind: type[Any]) -> Any:
    return decode(kind, (await bus.request(subject, encode(request), timeout=5)).data)


async def put(pool: asyncpg.Pool, mailbox: str, message_id: str, content: bytes) -> None:
    fields = {"tenant_id": "chu-demo", "mail_from": "a@autre-operateur.mssante.fr", "sha256": "x"}
    assert await store(pool, mailbox=mailbox, message_id=message_id, content=content, **fields)


async def test_the_owner_and_delegates_see_a_mailbox_and_no_one_else(api: Api, bus: nats.NATS) -> None:
    await put(api.pool, JEAN, "01JEAN1", b"Subject: 1\r\n\r\none\r\n")
    await put(api.pool, CARDIO, "01CARDIO1", b"Subject: 2\r\n\r\ntwo\r\n")

    async def listed(identity: str, mailbox: str) -> MailboxListReply:
        return await ask(
            bus,
            subjects.MAILBOX_LIST,
            MailboxListRequest(identity=identity, session=api.session(identity), mailbox=mailbox),
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
        MessageFetchRequest(identity=CLAIRE, session=api.session(CLAIRE), mailbox=JEAN, message_id="01JEAN1"),
        MessageFetchReply,
    )
    assert (guessed.found, guessed.content) == (False, b"")
    fetched = await ask(
        bus,
        subjects.MESSAGE_FETCH,
        MessageFetchRequest(identity=JEAN, session=api.session(JEAN), mailbox=JEAN, message_id="01JEAN1"),
        MessageFetchReply,
    )
    assert (fetched.found, fetched.content) == (True, b"Subject: 1\r\n\r\none\r\n")


async def test_flags_folders_and_deletion_with_the_quota_given_back(api: Api, bus: nats.NATS) -> None:
    await put(api.pool, JEAN, "01READ", b"x" * 100)
    await put(api.pool, JEAN, "01KEEP", b"y" * 50)
    read = await ask(
        bus,
        subjects.MESSAGE_UPDATE,
        MessageUpdateRequest(
            identity=JEAN,
            session=api.session(JEAN),
            mailbox=JEAN,
            message_id="01READ",
            add_flags=["\\Seen", "\\Flagged"],
        ),
        MessageUpdateReply,
    )
    assert (read.found, list(read.entry.flags), read.entry.folder) == (True, ["\\Flagged", "\\Seen"], "INBOX")
    moved = await ask(
        bus,
        subjects.MESSAGE_UPDATE,
        MessageUpdateRequest(
            identity=JEAN,
            session=api.session(JEAN),
            mailbox=JEAN,
            message_id="01READ",
            remove_flags=["\\Flagged"],
            folder="Archive",
        ),
        MessageUpdateReply,
    )
    assert (list(moved.entry.flags), moved.entry.folder) == (["\\Seen"], "Archive")
    inbox = await ask(
        bus,
        subjects.MAILBOX_LIST,
        MailboxListRequest(identity=JEAN, session=api.session(JEAN), mailbox=JEAN, folder="INBOX"),
        MailboxListReply,
    )
    assert [e.message_id for e in inbox.entries] == ["01KEEP"]
    bad = await ask(
        bus,
        subjects.MESSAGE_UPDATE,
        MessageUpdateRequest(
            identity=JEAN, session=api.session(JEAN), mailbox=JEAN, message_id="01KEEP", folder='a"b'
        ),
        MessageUpdateReply,
    )
    assert (bad.found, bad.error) == (False, "invalid flag or folder name 'a\"b'")
    before = await usage(api.pool, JEAN)
    refused = await ask(
        bus,
        subjects.MESSAGE_DELETE,
        MessageDeleteRequest(identity=CLAIRE, session=api.session(CLAIRE), mailbox=JEAN, message_id="01READ"),
        MessageDeleteReply,
    )
    assert (refused.found, refused.error) == (False, "no such mailbox for this identity")
    deleted = await ask(
        bus,
        subjects.MESSAGE_DELETE,
        MessageDeleteRequest(identity=JEAN, session=api.session(JEAN), mailbox=JEAN, message_id="01READ"),
        MessageDeleteReply,
    )
    assert deleted.found
    after = await usage(api.pool, JEAN)
    assert (before.used_bytes - after.used_bytes, before.messages - after.messages) == (100, 1)


async def test_a_stated_identity_without_the_directorys_proof_gets_nothing(
    api: Api, bus: nats.NATS, tmp_path: Path
) -> None:
    await put(api.pool, JEAN, "01PROOF", b"Subject: p\r\n\r\nproof\r\n")
    new_key_files(tmp_path / "other.pem", tmp_path / "other.pub.pem")
    forger = SessionSigner.from_file(tmp_path / "other.pem", 60)
    expired = api.signer.sign(JEAN, now=time.time() - 120)  # valid for 60 s, two minutes ago
    elsewhere = api.signer.sign(JEAN, audience="mss-webmail")
    genuine = api.session(JEAN)
    for identity, session in (
        (JEAN, ""),  # the identity stated, no proof
        (JEAN, forger.sign(JEAN)),  # signed by another key
        (JEAN, expired),
        (JEAN, elsewhere),  # meant for another service
        (JEAN, api.session(CLAIRE)),  # someone else's proof
        (JEAN, genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB")),  # tampered
        (JEAN, genuine.replace(".", ".x", 1)),
    ):
        refused = await ask(
            bus,
            subjects.MAILBOX_LIST,
            MailboxListRequest(identity=identity, session=session, mailbox=JEAN),
            MailboxListReply,
        )
        assert (list(refused.entries), refused.error) == ([], "no such mailbox for this identity"), session
    listed = await ask(
        bus, subjects.MAILBOX_LIST, MailboxListRequest(session=genuine, mailbox=JEAN), MailboxListReply
    )
    assert [e.message_id for e in listed.entries] == ["01PROOF"]


async def test_signing_in_through_the_directory_gives_the_session_that_opens_the_mailbox(
    api: Api, bus: nats.NATS
) -> None:
    await put(api.pool, JEAN, "01SIGNIN", b"Subject: s\r\n\r\nsigned in\r\n")
    wrong = await ask(
        bus,
        subjects.AUTHENTICATE,
        AuthenticateRequest(mechanism=AuthMechanism.AUTH_MECHANISM_PLAIN, login=JEAN, secret=b"devine"),
        AuthenticateReply,
    )
    assert (wrong.outcome, wrong.session) == (AuthOutcome.AUTH_OUTCOME_INVALID, "")
    signed_in = await ask(
        bus,
        subjects.AUTHENTICATE,
        AuthenticateRequest(
            mechanism=AuthMechanism.AUTH_MECHANISM_PLAIN, login=JEAN, secret=PASSWORD.encode()
        ),
        AuthenticateReply,
    )
    assert signed_in.outcome == AuthOutcome.AUTH_OUTCOME_ACCEPTED
    assert signed_in.session
    listed = await ask(
        bus,
        subjects.MAILBOX_LIST,
        MailboxListRequest(session=signed_in.session, mailbox=JEAN),
        MailboxListReply,
    )
    assert [e.message_id for e in listed.entries] == ["01SIGNIN"]
    delegated = await ask(  # the same sign-in opens what is delegated to Jean, and nothing else
        bus,
        subjects.MAILBOX_LIST,
        MailboxListRequest(session=signed_in.session, mailbox=CARDIO),
        MailboxListReply,
    )
    assert delegated.error == ""
    other = await ask(
        bus,
        subjects.MAILBOX_LIST,
        MailboxListRequest(session=signed_in.session, mailbox=CLAIRE),
        MailboxListReply,
    )
    assert other.error == "no such mailbox for this identity"
