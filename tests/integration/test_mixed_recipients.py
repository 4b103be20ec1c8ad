"""Messages mixing trust-space and outside recipients, over real SMTP: refused whole at the end of
DATA by default (nothing queued), or delivered to the trust-space recipients only when the
sender's establishment chose so."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiosmtplib
import asyncpg
import nats
import pytest
from mss.bus import streams, subjects
from mss.bus.codec import decode
from mss.devstack.pki import Issued, LocalPki
from mss.devstack.ports import free_port
from mss.directory.app import build as build_directory
from mss.directory.seed import apply_seed, load_seed
from mss.directory.settings import DirectorySettings
from mss.ingress.app import build as build_ingress
from mss.ingress.settings import IngressSettings
from mss.policy.app import build as build_policy
from mss.policy.settings import PolicySettings
from mss.testing.fixtures import DEMO, RunningNats
from mss.testing.inprocess import running
from mss.testing.smtp import client_tls
from mss.v1 import AuditCode, AuditEvent, MessageReceived

pytestmark = pytest.mark.integration

SENDER = "dpi@chu-demo.mssante.fr"  # applicative mailbox of chu-demo, sends with its certificate
SENDER_DN = "CN=dpi.chu-demo.example,OU=750000001,O=CHU DEMO,ST=Paris (75),C=FR"
INSIDE = [
    "jean.martin@chu-demo.mssante.fr",  # ours, SaaS
    "claire.durand@ch-exemple.mssante.fr",  # ours, proxy
    "dr.x@autre-operateur.mssante.fr",  # another operator of the list
]
OUTSIDE = ["someone@gmail.com", "dr.y@clinique-hors-liste.fr", "x@mssante.fr.example.com"]
MESSAGE = b"Subject: mixed\r\n\r\nBonjour.\r\n"


@dataclass
class Stack:
    port: int
    pki: LocalPki
    sender: Issued
    received: list[MessageReceived]
    audit: list[AuditEvent]
    database_url: str


@pytest.fixture
async def stack(
    nats_server: RunningNats, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    conn = await asyncpg.connect(database_url)
    try:
        await apply_seed(conn, load_seed(DEMO / "seed.yaml"))
        await conn.execute("UPDATE tenants SET mixed_recipients = 'refuse_whole' WHERE id = 'chu-demo'")
        await conn.execute("UPDATE directory_meta SET version = version + 1")
    finally:
        await conn.close()
    pki = LocalPki(tmp_path_factory.mktemp("pki"))
    server = pki.issue("server", "CN=smtp-1.ght-demo.example,OU=00000000000001,O=GHT DEMO,ST=Paris (75),C=FR")
    sender = pki.issue("dpi", SENDER_DN)
    bus = await nats.connect(nats_server.url)
    for spec in streams.ALL:
        await streams.ensure_stream(bus.jetstream(), spec)
    received: list[MessageReceived] = []
    audit: list[AuditEvent] = []

    async def on_received(msg: nats.aio.msg.Msg) -> None:
        received.append(decode(MessageReceived, msg.data))

    async def on_audit(msg: nats.aio.msg.Msg) -> None:
        audit.append(decode(AuditEvent, msg.data))

    await bus.subscribe(subjects.MESSAGE_RECEIVED, cb=on_received)
    await bus.subscribe(subjects.audit("ingress"), cb=on_audit)
    ingress = IngressSettings(
        nats_url=nats_server.url,
        http_port=0,
        peer_port=free_port(),
        submission_port=free_port(),
        tls_cert_file=server.chain_path,
        tls_key_file=server.key_path,
        tls_ca_file=pki.ca_bundle_path,
        tls_crl_file=pki.crl_path,
    )
    directory = DirectorySettings(nats_url=nats_server.url, http_port=0, database_url=database_url)
    policy = PolicySettings(
        nats_url=nats_server.url,
        http_port=0,
        trust_list_path=DEMO / "listeblanchemssante.xml",
        directory_cache_ttl=0,  # a rule changed by the test applies to the next RCPT
    )
    try:
        async with (
            running(build_directory(directory)),
            running(build_policy(policy)),
            running(build_ingress(ingress)),
        ):
            yield Stack(ingress.submission_port, pki, sender, received, audit, database_url)
    finally:
        await bus.close()


async def send(stack: Stack, recipients: list[str]) -> tuple[list[str], str]:
    """RCPT replies and the reply to the end of DATA (or to DATA when it is refused)."""
    tls = client_tls(stack.sender, stack.pki.ca_bundle_path)
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=stack.port, start_tls=True, tls_context=tls)
    await client.connect()
    try:
        await client.ehlo()
        await client.mail(SENDER)
        rcpt = []
        for recipient in recipients:
            reply = await client.execute_command(b"RCPT", f"TO:<{recipient}>".encode())
            rcpt.append(f"{reply.code} {reply.message}")
        try:
            reply = await client.data(MESSAGE)
        except aiosmtplib.SMTPResponseException as exc:  # DATA itself, or the end of DATA, refused
            return rcpt, f"{exc.code} {exc.message}"
        return rcpt, f"{reply.code} {reply.message}"
    finally:
        await client.quit()


async def set_rule(stack: Stack, rule: str) -> None:
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute("UPDATE tenants SET mixed_recipients = $1 WHERE id = 'chu-demo'", rule)
        await conn.execute("UPDATE directory_meta SET version = version + 1")
    finally:
        await conn.close()


async def arrived(items: list[object], count: int) -> None:
    """Wait until ``items`` has ``count`` entries (what ingress published reaches us; bounded)."""
    for _ in range(500):
        if len(items) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(items)} of {count} arrived")


async def test_by_default_a_mixed_message_is_refused_whole_naming_the_outside_recipients(
    stack: Stack,
) -> None:
    rcpt, end = await send(stack, [INSIDE[0], OUTSIDE[0], INSIDE[2], OUTSIDE[1]])
    assert [r[:3] for r in rcpt] == ["250"] * 4
    assert "outside the MSSante trust space" in rcpt[1]
    assert end == (
        "550 5.7.1 Message refused: recipients outside the MSSante trust space: <someone@gmail.com>,"
        " <dr.y@clinique-hors-liste.fr>"
    )
    await arrived(stack.audit, 1)  # type: ignore[arg-type]
    assert stack.received == []  # ingress publishes the message before it answers: never here
    refused = [a for a in stack.audit if a.code == AuditCode.AUDIT_CODE_MESSAGE_REFUSED]
    assert len(refused) == 1
    assert "someone@gmail.com" in refused[0].reason
    assert refused[0].reply == end


async def test_a_message_for_outside_recipients_only_is_refused_at_the_end_of_data(stack: Stack) -> None:
    rcpt, end = await send(stack, [OUTSIDE[2]])
    assert rcpt[0].startswith("250")
    assert end.startswith("550 5.7.1 Message refused")


async def test_an_establishment_may_deliver_to_the_trust_space_recipients_only(stack: Stack) -> None:
    await set_rule(stack, "deliver_valid")
    try:
        for _ in range(100):  # the directory reads the registry again within a second
            rcpt, end = await send(stack, [INSIDE[0], OUTSIDE[0]])
            if rcpt[1].startswith("550"):
                break
            await asyncio.sleep(0.05)
        assert rcpt == [
            "250 2.1.5 Recipient OK",
            "550 5.7.1 Recipient domain is outside the MSSante trust space",
        ]
        assert end.startswith("250 2.0.0 Ok: queued as ")
        await arrived(stack.received, 1)  # type: ignore[arg-type]
        assert [r.address for r in stack.received[-1].recipients] == [INSIDE[0]]
    finally:
        await set_rule(stack, "refuse_whole")


async def test_no_combination_of_recipients_reaches_outside_the_trust_space(stack: Stack) -> None:
    """Property, over 40 random combinations (fixed seed): under "refuse whole", either the message
    is refused with every outside recipient named, or it is queued for trust-space recipients only."""
    rng = random.Random(20261129)
    pool = INSIDE + OUTSIDE + ["Someone@GMAIL.com", "nobody@chu-demo.mssante.fr"]
    for _ in range(40):
        recipients = rng.sample(pool, rng.randint(1, 5))
        before = len(stack.received)
        _, end = await send(stack, recipients)
        outside = [r for r in recipients if r.lower().split("@")[1] not in {a.split("@")[1] for a in INSIDE}]
        if outside:
            assert end.startswith("550 5.7.1 Message refused"), (recipients, end)
            for address in outside:
                assert f"<{address}>" in end
        if end.startswith("250"):
            await arrived(stack.received, before + 1)  # type: ignore[arg-type]
        queued = [r.address for m in stack.received[before:] for r in m.recipients]
        assert set(queued) <= set(INSIDE), (recipients, queued)
        if outside:
            assert queued == []
