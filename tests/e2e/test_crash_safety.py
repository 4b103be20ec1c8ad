"""Crash safety: egress and storage are killed (SIGKILL) in the middle of a run of 1,000 messages
and started again; every accepted message reaches its recipients, none is lost. Duplicates are
counted and reported: none where the receiver is ours (storage is idempotent on message and
mailbox); at most the messages in flight at the kill where the receiver is another server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import asyncpg
import pytest
from mss.devstack.stack import Stack
from mss.testing import smtp
from mss.testing.fixtures import relayed_ids, running_backbone

pytestmark = pytest.mark.e2e

SENDER = "contact@autre-operateur.mssante.fr"
SAAS = "jean.martin@chu-demo.mssante.fr"
PROXY = "claire.durand@ch-exemple.mssante.fr"
TOTAL = 1000
CONNECTIONS = 4


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A backbone of its own: this test kills its services."""
    with running_backbone(tmp_path_factory.mktemp("crash")) as backbone:
        yield backbone


async def send_all(stack: Stack, sent: list[str], crash: asyncio.Event, restart: asyncio.Event) -> None:
    """Send TOTAL messages over CONNECTIONS sessions, each to both recipients; flag the progress."""
    assert stack.pki is not None
    tls = smtp.client_tls(stack.pki.peer_operator, stack.pki.ca)

    async def session(first: int) -> None:
        client = await smtp.connect(stack.layout.peer_smtp, tls)
        try:
            for n in range(first, TOTAL, CONNECTIONS):
                content = (
                    f"Subject: crash {n}\r\nMessage-ID: <crash-{n}@autre>\r\n\r\nmessage {n}\r\n".encode()
                )
                refused, reply = await client.sendmail(SENDER, [SAAS, PROXY], content)
                assert refused == {}, refused
                sent.append(reply.rsplit(" ", 1)[1])
                if len(sent) == TOTAL * 3 // 10:
                    crash.set()
                if len(sent) == TOTAL * 6 // 10:
                    restart.set()
        finally:
            await client.quit()

    await asyncio.gather(*(session(first) for first in range(CONNECTIONS)))


@pytest.mark.timeout(420)
async def test_killing_egress_and_storage_mid_run_loses_no_message(stack: Stack) -> None:
    sent: list[str] = []
    crash, restart = asyncio.Event(), asyncio.Event()
    sending = asyncio.create_task(send_all(stack, sent, crash, restart))
    await crash.wait()
    for name in ("egress", "storage"):
        await asyncio.to_thread(stack.kill, name)
    await restart.wait()
    for name in ("egress", "storage"):
        stack.start(name)
    for name in ("egress", "storage"):
        await asyncio.to_thread(stack.wait_ready, name)
    await sending
    sent_at = time.monotonic()
    assert len(set(sent)) == TOTAL

    expected = set(sent)
    folder = stack.layout.home / "mail" / "smarthost"
    conn = await asyncpg.connect(stack.postgres.url())
    try:
        deadline = time.monotonic() + 180  # items in flight at the kill come back after one ack wait (30 s)
        while True:
            stored = await conn.fetch(
                "SELECT message_id FROM stored_messages WHERE mailbox = $1 AND message_id = ANY($2::text[])",
                SAAS,
                list(expected),
            )
            relayed = relayed_ids(folder)
            if ({r["message_id"] for r in stored} == expected and expected <= set(relayed)) or (
                time.monotonic() > deadline
            ):
                break
            await asyncio.sleep(0.5)
        done_after = time.monotonic() - sent_at
        handled_twice = await conn.fetchval(  # storage's own audit: a redelivered item is stored again
            "SELECT count(*) FROM (SELECT message_id FROM audit_events WHERE code = 400 AND recipient = $1"
            " AND message_id = ANY($2::text[]) GROUP BY message_id HAVING count(*) > 1) twice",
            SAAS,
            list(expected),
        )
    finally:
        await conn.close()
    stored_ids = {r["message_id"] for r in stored}
    missing_stored = expected - stored_ids
    missing_relayed = expected - set(relayed)
    duplicates_relayed = sum(count - 1 for queue_id, count in relayed.items() if queue_id in expected)
    print(
        f"\ncrash safety: {TOTAL} messages, egress and storage killed after {TOTAL * 3 // 10};"
        f" stored {len(stored_ids)}, each once (storage handled {handled_twice} twice after the kill),"
        f" relayed {len(expected & set(relayed))} (duplicates at the next hop: {duplicates_relayed});"
        f" all done {done_after:.1f} s after the last acceptance"
    )
    assert not missing_stored, f"{len(missing_stored)} never stored"
    assert not missing_relayed, f"{len(missing_relayed)} never relayed"
