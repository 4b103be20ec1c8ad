"""Size limits over real SMTP (RFC 1870): the establishment's, the mailbox's, and 25 MB toward
patient.mssante.fr (R-MSG-5); early with SIZE=, at the end of DATA otherwise."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from mss.v1 import AuditCode

pytestmark = pytest.mark.integration

JEAN = "jean.martin@chu-demo.mssante.fr"  # SaaS mailbox of chu-demo
CLAIRE = "claire.durand@ch-exemple.mssante.fr"  # proxy mailbox of ch-exemple
PEER = "dr.x@autre-operateur.mssante.fr"


def message(size: int) -> bytes:
    head = b"Subject: size\r\n\r\n"
    line = b"x" * 998 + b"\r\n"
    body = line * ((size - len(head)) // len(line) + 1)
    return (head + body)[: size - 2] + b"\r\n"


async def limit_in_force(dialogue: Any, tenant: str, limit: int | None) -> None:
    """Set the establishment's limit and wait until policy answers with it (registry refresh)."""
    await dialogue.set_tenant(tenant, "max_message_bytes", limit)
    for _ in range(100):
        mail, _, _ = await dialogue.send([], size=(limit or 0) + 1)
        if (mail.startswith("552")) == (limit is not None and tenant == "chu-demo"):
            return
        await asyncio.sleep(0.05)


async def test_the_senders_establishment_limit_refuses_at_mail_from_or_at_the_end_of_data(
    dialogue: Any,
) -> None:
    await limit_in_force(dialogue, "chu-demo", 50_000)
    mail, _, _ = await dialogue.send([PEER], size=60_000)
    assert (
        mail
        == "552 5.3.4 Message too big: 60000 bytes, the limit of the sender's establishment is 50000 bytes"
    )
    mail, rcpt, end = await dialogue.send([PEER], message(60_000))  # no SIZE= given: found at the end
    assert (mail[:3], rcpt) == ("250", ["250 2.1.5 Recipient OK"])
    assert end.startswith("552 5.3.4 Message too big: 60000 bytes, the limit of the sender's establishment")
    _, _, end = await dialogue.send([PEER], message(40_000))
    assert end.startswith("250 2.0.0")


async def test_a_recipients_limit_refuses_that_recipient_early_and_the_message_late(
    dialogue: Any, until: Any
) -> None:
    await limit_in_force(dialogue, "ch-exemple", 30_000)
    for _ in range(100):
        _, rcpt, _ = await dialogue.send([JEAN, CLAIRE], message(10), size=40_000)
        if rcpt[1].startswith("552"):
            break
        await asyncio.sleep(0.05)
    assert rcpt == [
        "250 2.1.5 Recipient OK",
        f"552 5.3.4 Message too big: 40000 bytes, the limit of <{CLAIRE}> is 30000 bytes",
    ]
    before = len(dialogue.audit)
    _, _, end = await dialogue.send([JEAN, CLAIRE], message(40_000))
    assert end == f"552 5.3.4 Message too big: 40000 bytes, the limit of <{CLAIRE}> is 30000 bytes"
    await until(dialogue.audit, before + 1)
    assert dialogue.audit[-1].code == AuditCode.AUDIT_CODE_MESSAGE_REFUSED
    await dialogue.set_tenant("ch-exemple", "max_message_bytes", None)


async def test_a_mailbox_limit_lower_than_its_establishments_wins(dialogue: Any) -> None:
    conn = await asyncpg.connect(dialogue.database_url)
    try:
        await conn.execute("UPDATE mailboxes SET max_message_bytes = 20000 WHERE address = $1", JEAN)
        await conn.execute("UPDATE directory_meta SET version = version + 1")
        await limit_in_force(dialogue, "chu-demo", 50_000)
        for _ in range(100):
            _, rcpt, _ = await dialogue.send([JEAN], size=30_000)
            if rcpt and rcpt[0].startswith("552"):
                break
            await asyncio.sleep(0.05)
        assert rcpt == [f"552 5.3.4 Message too big: 30000 bytes, the limit of <{JEAN}> is 20000 bytes"]
    finally:
        await conn.execute("UPDATE mailboxes SET max_message_bytes = NULL WHERE address = $1", JEAN)
        await conn.execute("UPDATE directory_meta SET version = version + 1")
        await conn.close()
