"""The path of a message through the six services, as real processes over real SMTP."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from mss.bus import subjects
from mss.bus.codec import decode, encode
from mss.devstack.stack import Stack
from mss.testing import smtp
from mss.v1 import AuditCode, MailboxListReply, MailboxListRequest, MessageFetchReply, MessageFetchRequest

pytestmark = pytest.mark.e2e

SENDER = "contact@autre-operateur.mssante.fr"
SAAS_PER = "jean.martin@chu-demo.mssante.fr"
PROXY_PER = "claire.durand@ch-exemple.mssante.fr"
PEER = "dr.x@autre-operateur.mssante.fr"


def simple_message(subject: str) -> bytes:
    return (
        f"From: <{SENDER}>\r\nTo: <{SAAS_PER}>\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject}@autre-operateur.mssante.fr>\r\n\r\nBonjour.\r\n"
    ).encode()


async def send(backbone: Stack, recipients: list[str], content: bytes) -> str:
    return await smtp.send(backbone.layout.peer_smtp, SENDER, recipients, content)


async def test_unknown_local_mailbox_is_refused_at_rcpt(backbone: Stack) -> None:
    client = await smtp.connect(backbone.layout.peer_smtp)
    try:
        await client.mail(SENDER)
        reply = await client.execute_command(b"RCPT", b"TO:<nobody@chu-demo.mssante.fr>")
    finally:
        await client.quit()
    assert (reply.code, reply.message[:5]) == (550, "5.1.1")


async def test_domain_outside_trust_space_is_refused_at_rcpt(backbone: Stack) -> None:
    client = await smtp.connect(backbone.layout.peer_smtp)
    try:
        await client.mail(SENDER)
        reply = await client.execute_command(b"RCPT", b"TO:<someone@gmail.com>")
    finally:
        await client.quit()
    assert (reply.code, reply.message[:5]) == (550, "5.7.1")


async def test_saas_mailbox_stores_the_exact_bytes(backbone: Stack, audit, bus) -> None:
    content = simple_message("saas")
    queue_id = await send(backbone, [SAAS_PER], content)
    await audit.wait_for(queue_id, AuditCode.AUDIT_CODE_STORED, SAAS_PER)
    listing = decode(
        MailboxListReply,
        (
            await bus.request(
                subjects.MAILBOX_LIST,
                encode(MailboxListRequest(tenant_id="chu-demo", mailbox=SAAS_PER)),
                timeout=5,
            )
        ).data,
    )
    assert queue_id in [entry.message_id for entry in listing.entries]
    fetched = decode(
        MessageFetchReply,
        (
            await bus.request(
                subjects.MESSAGE_FETCH,
                encode(MessageFetchRequest(tenant_id="chu-demo", mailbox=SAAS_PER, message_id=queue_id)),
                timeout=5,
            )
        ).data,
    )
    assert fetched.found
    assert fetched.content == content


async def test_other_tenant_cannot_list_the_mailbox(backbone: Stack, audit, bus) -> None:
    queue_id = await send(backbone, [SAAS_PER], simple_message("isolation"))
    await audit.wait_for(queue_id, AuditCode.AUDIT_CODE_STORED, SAAS_PER)
    listing = decode(
        MailboxListReply,
        (
            await bus.request(
                subjects.MAILBOX_LIST,
                encode(MailboxListRequest(tenant_id="ch-exemple", mailbox=SAAS_PER)),
                timeout=5,
            )
        ).data,
    )
    assert list(listing.entries) == []


def relayed(folder: Path, queue_id: str) -> bytes:
    """The message the demo mail server received for ``queue_id``."""
    for path in sorted(folder.glob("*.eml")):
        content = path.read_bytes()
        if f" id {queue_id};".encode() in content.split(b"\r\n\r\n", 1)[0]:
            return content
    raise AssertionError(f"{queue_id} not found in {folder}")


@pytest.mark.parametrize(
    ("recipient", "sink"), [(PROXY_PER, "smarthost"), (PEER, "peer_operator")], ids=["proxy", "peer"]
)
async def test_remote_recipients_are_relayed(backbone: Stack, audit, recipient: str, sink: str) -> None:
    content = simple_message(f"relay-{sink}")
    queue_id = await send(backbone, [recipient], content)
    event = await audit.wait_for(queue_id, AuditCode.AUDIT_CODE_RELAYED, recipient)
    assert event.next_hop == f"127.0.0.1:{getattr(backbone.layout, sink)}"
    received = relayed(backbone.layout.home / "mail" / sink, queue_id)
    header, _, rest = received.partition(b";\r\n\t")
    assert header.startswith(b"Received: by ")
    assert rest.split(b"\r\n", 1)[1] == content


async def test_timeline_lists_every_hop_in_order(backbone: Stack, audit) -> None:
    queue_id = await send(backbone, [SAAS_PER, PROXY_PER], simple_message("timeline"))
    await audit.wait_for(queue_id, AuditCode.AUDIT_CODE_STORED, SAAS_PER)
    await audit.wait_for(queue_id, AuditCode.AUDIT_CODE_RELAYED, PROXY_PER)
    url = f"http://127.0.0.1:{backbone.layout.http['tracing']}/api/v1/messages/{queue_id}"
    # The timeline store is fed asynchronously from the audit stream: wait for all five events.
    timeline = await fetch_timeline_with(url, want=5)
    events = [e["event"] for e in timeline["events"]]
    assert events[:3] == ["MESSAGE_ACCEPTED", "MESSAGE_ROUTED", "MESSAGE_ROUTED"]
    assert timeline["events"][0]["trust_list_version"].startswith("2026-11-01T00:00:00Z/")
    assert {e["event"] for e in timeline["events"][-2:]} == {"STORED", "RELAYED"}
    assert timeline["recipients"][SAAS_PER]["status"] == "DELIVERED"
    assert timeline["recipients"][PROXY_PER]["status"] == "DELIVERED"
    assert len(timeline["trace_ids"]) == 1
    assert [e["at"] for e in timeline["events"]] == sorted(e["at"] for e in timeline["events"])


async def fetch_timeline_with(url: str, want: int) -> dict:
    """Poll the tracing API until the timeline has ``want`` events (bounded: 10 s)."""
    body: dict = {"events": []}
    for _ in range(200):
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # 404: no event stored yet
                raise
        if len(body["events"]) >= want:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"timeline incomplete: {body}")
