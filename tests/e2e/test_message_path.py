"""The path of a message through the six services, as real processes over real SMTP."""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from mss.bus import subjects
from mss.bus.codec import decode, encode
from mss.devstack.stack import Stack
from mss.testing import smtp
from mss.testing.fixtures import signed_session
from mss.v1 import AuditCode, MailboxListReply, MailboxListRequest, MessageFetchReply, MessageFetchRequest

pytestmark = pytest.mark.e2e

SENDER = "contact@autre-operateur.mssante.fr"
SAAS_PER = "jean.martin@chu-demo.mssante.fr"
PROXY_PER = "claire.durand@ch-exemple.mssante.fr"
PEER = "dr.x@autre-operateur.mssante.fr"
APP = "dpi@chu-demo.mssante.fr"


def peer_tls(backbone: Stack) -> ssl.SSLContext:
    """The demo peer operator's TLS identity."""
    assert backbone.pki is not None
    return smtp.client_tls(backbone.pki.peer_operator, backbone.pki.ca)


def app_tls(backbone: Stack) -> ssl.SSLContext:
    """The TLS identity of the applicative mailbox dpi@chu-demo."""
    assert backbone.pki is not None
    return smtp.client_tls(backbone.pki.applications["dpi"], backbone.pki.ca)


def simple_message(subject: str) -> bytes:
    return (
        f"From: <{SENDER}>\r\nTo: <{SAAS_PER}>\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject}@autre-operateur.mssante.fr>\r\n\r\nBonjour.\r\n"
    ).encode()


MESSAGE = simple_message("relay")


async def send(backbone: Stack, recipients: list[str], content: bytes) -> str:
    """Send as the demo peer operator."""
    return await smtp.send(backbone.layout.peer_smtp, peer_tls(backbone), SENDER, recipients, content)


async def test_unknown_local_mailbox_is_refused_at_rcpt(backbone: Stack) -> None:
    client = await smtp.connect(backbone.layout.peer_smtp, peer_tls(backbone))
    try:
        await client.mail(SENDER)
        reply = await client.execute_command(b"RCPT", b"TO:<nobody@chu-demo.mssante.fr>")
    finally:
        await client.quit()
    assert (reply.code, reply.message[:5]) == (550, "5.1.1")


async def test_domain_outside_trust_space_is_refused_at_rcpt(backbone: Stack) -> None:
    client = await smtp.connect(backbone.layout.peer_smtp, peer_tls(backbone))
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
                encode(
                    MailboxListRequest(
                        identity=SAAS_PER, session=signed_session(backbone, SAAS_PER), mailbox=SAAS_PER
                    )
                ),
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
                encode(
                    MessageFetchRequest(
                        identity=SAAS_PER,
                        session=signed_session(backbone, SAAS_PER),
                        mailbox=SAAS_PER,
                        message_id=queue_id,
                    )
                ),
                timeout=5,
            )
        ).data,
    )
    assert fetched.found
    assert fetched.content == content


async def test_someone_of_another_establishment_cannot_list_the_mailbox(backbone: Stack, audit, bus) -> None:
    queue_id = await send(backbone, [SAAS_PER], simple_message("isolation"))
    await audit.wait_for(queue_id, AuditCode.AUDIT_CODE_STORED, SAAS_PER)
    listing = decode(
        MailboxListReply,
        (
            await bus.request(
                subjects.MAILBOX_LIST,
                encode(
                    MailboxListRequest(
                        identity=PROXY_PER, session=signed_session(backbone, PROXY_PER), mailbox=SAAS_PER
                    )
                ),
                timeout=5,
            )
        ).data,
    )
    assert list(listing.entries) == []
    assert listing.error == "no such mailbox for this identity"


def relayed(folder: Path, queue_id: str) -> bytes:
    """The message the demo mail server received for ``queue_id``."""
    for path in sorted(folder.glob("*.eml")):
        content = path.read_bytes()
        if f" id {queue_id};".encode() in content.split(b"\r\n\r\n", 1)[0]:
            return content
    raise AssertionError(f"{queue_id} not found in {folder}")


async def test_proxy_mode_mailbox_is_relayed_to_the_smarthost(backbone: Stack, audit) -> None:
    await relayed_through(backbone, audit, PROXY_PER, "smarthost", await send(backbone, [PROXY_PER], MESSAGE))


async def test_applicative_mailbox_sends_to_another_operator_over_mutual_tls(backbone: Stack, audit) -> None:
    port = backbone.layout.submission
    queue_id = await smtp.send(port, app_tls(backbone), APP, [PEER], MESSAGE)
    event = await relayed_through(backbone, audit, PEER, "peer_operator", queue_id)
    assert backbone.pki is not None
    assert event.tls.subject_dn == backbone.pki.peer_operator.subject_dn
    assert (event.tls.tls_version, event.tls.cipher) == ("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384")
    assert len(event.tls.fingerprint_sha256) == 64


async def test_a_person_authenticated_by_password_sends_as_a_delegated_service(
    backbone: Stack, audit
) -> None:
    assert backbone.pki is not None
    organisational = "cardiologie@chu-demo.mssante.fr"  # delegated to jean.martin@ in the demo seed
    client = await smtp.connect(backbone.layout.submission, smtp.client_tls(None, backbone.pki.ca))
    try:
        await client.login(SAAS_PER, backbone.demo_passwords()[SAAS_PER])
        refused, reply = await client.sendmail(organisational, [PEER], MESSAGE)
    finally:
        await client.quit()
    assert refused == {}
    queue_id = reply.rsplit(" ", 1)[1]
    await relayed_through(backbone, audit, PEER, "peer_operator", queue_id)
    accepted = await audit.wait_for(queue_id, AuditCode.AUDIT_CODE_MESSAGE_ACCEPTED)
    assert accepted.mail_from == organisational
    assert accepted.reason.endswith(f"authenticated as {SAAS_PER}")


async def relayed_through(backbone: Stack, audit, recipient: str, sink: str, queue_id: str):
    """Wait for the relay of ``queue_id`` and check the next hop got the exact bytes; return the event."""
    content = MESSAGE
    event = await audit.wait_for(queue_id, AuditCode.AUDIT_CODE_RELAYED, recipient)
    assert event.next_hop == f"127.0.0.1:{getattr(backbone.layout, sink)}"
    received = relayed(backbone.layout.home / "mail" / sink, queue_id)
    header, _, rest = received.partition(b";\r\n\t")
    assert header.startswith(b"Received: by ")
    assert rest.split(b"\r\n", 1)[1] == content
    return event


async def test_timeline_lists_every_hop_in_order(backbone: Stack, audit) -> None:
    queue_id = await send(backbone, [SAAS_PER, PROXY_PER], simple_message("timeline"))
    await audit.wait_for(queue_id, AuditCode.AUDIT_CODE_STORED, SAAS_PER)
    await audit.wait_for(queue_id, AuditCode.AUDIT_CODE_RELAYED, PROXY_PER)
    # The timeline store is fed asynchronously from the audit stream: wait for all five events.
    timeline = await fetch_timeline_with(backbone, queue_id, want=5)
    events = [e["event"] for e in timeline["events"]]
    assert events[:3] == ["MESSAGE_ACCEPTED", "MESSAGE_ROUTED", "MESSAGE_ROUTED"]
    assert timeline["events"][0]["trust_list_version"].startswith("2026-11-01T00:00:00Z/")
    assert {e["event"] for e in timeline["events"][-2:]} == {"STORED", "RELAYED"}
    assert timeline["recipients"][SAAS_PER]["status"] == "DELIVERED"
    assert timeline["recipients"][PROXY_PER]["status"] == "DELIVERED"
    assert len(timeline["trace_ids"]) == 1
    assert [e["at"] for e in timeline["events"]] == sorted(e["at"] for e in timeline["events"])


def audit_token(backbone: Stack) -> str:
    """Sign in to the audit API as the demo GHT administrator."""
    api = f"http://127.0.0.1:{backbone.layout.http['tracing']}/api/v1"
    credentials = {"login": "admin", "password": backbone.audit_accounts()["admin"]}
    request = urllib.request.Request(
        f"{api}/session", json.dumps(credentials).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(json.load(response)["token"])


async def fetch_timeline_with(backbone: Stack, queue_id: str, want: int, timeout: float = 30.0) -> dict:
    """Poll the audit API until the timeline has ``want`` events (bounded by ``timeout``)."""
    url = f"http://127.0.0.1:{backbone.layout.http['tracing']}/api/v1/messages/{queue_id}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {audit_token(backbone)}"})
    body: dict = {"events": []}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # 404: no event stored yet
                raise
        if len(body["events"]) >= want:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"timeline incomplete after {timeout} s: {body}")


def disposition_notification(original_id: str, disposition: str) -> bytes:
    """An RFC 8098 MDN from Jean about the message whose Message-ID is ``original_id``."""
    return (
        f"From: <{SAAS_PER}>\r\nTo: <{SENDER}>\r\nSubject: Lu : mdn\r\nMessage-ID: <mdn-1@chu-demo>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="mdn"\r\n\r\n'
        "--mdn\r\nContent-Type: text/plain\r\n\r\nVotre message a ete affiche.\r\n"
        "--mdn\r\nContent-Type: message/disposition-notification\r\n\r\n"
        "Reporting-UA: webmail.chu-demo.mssante.fr\r\n"
        f"Final-Recipient: rfc822; {SAAS_PER}\r\nOriginal-Message-ID: {original_id}\r\n"
        f"Disposition: manual-action/MDN-sent-manually; {disposition}\r\n\r\n--mdn--\r\n"
    ).encode()


async def test_a_read_notification_shows_in_the_original_messages_timeline(backbone: Stack, audit) -> None:
    assert backbone.pki is not None
    queue_id = await send(backbone, [SAAS_PER], simple_message("to-be-read"))
    await audit.wait_for(queue_id, AuditCode.AUDIT_CODE_STORED, SAAS_PER)
    client = await smtp.connect(backbone.layout.submission, smtp.client_tls(None, backbone.pki.ca))
    try:
        await client.login(SAAS_PER, backbone.demo_passwords()[SAAS_PER])
        mdn = disposition_notification("<to-be-read@autre-operateur.mssante.fr>", "displayed")
        refused, reply = await client.sendmail("", [SENDER], mdn)  # an MDN goes from the null sender
    finally:
        await client.quit()
    assert refused == {}
    notified = await audit.wait_for(reply.rsplit(" ", 1)[1], AuditCode.AUDIT_CODE_DISPOSITION_NOTIFIED)
    assert (notified.recipient, notified.original_message_id) == (
        SAAS_PER,
        "<to-be-read@autre-operateur.mssante.fr>",
    )
    timeline = await fetch_timeline_with(backbone, queue_id, want=4)  # accepted, routed, stored, notified
    assert timeline["events"][-1]["event"] == "DISPOSITION_NOTIFIED"
    assert timeline["events"][-1]["notification"] == reply.rsplit(" ", 1)[1]
    assert timeline["recipients"][SAAS_PER]["disposition"] == "displayed (manual-action/MDN-sent-manually)"


async def test_a_hosted_sender_keeps_a_copy_in_its_sent_folder(backbone: Stack, audit, bus) -> None:
    assert backbone.pki is not None
    client = await smtp.connect(backbone.layout.submission, smtp.client_tls(None, backbone.pki.ca))
    try:
        await client.login(SAAS_PER, backbone.demo_passwords()[SAAS_PER])
        refused, reply = await client.sendmail(SAAS_PER, [PROXY_PER], simple_message("sent-copy"))
    finally:
        await client.quit()
    assert refused == {}
    queue_id = reply.rsplit(" ", 1)[1]
    kept = await audit.wait_for(queue_id, AuditCode.AUDIT_CODE_STORED, SAAS_PER)
    assert kept.reason == "sender's copy kept in Sent"
    request = MailboxListRequest(
        identity=SAAS_PER, session=signed_session(backbone, SAAS_PER), mailbox=SAAS_PER, folder="Sent"
    )
    listing = decode(
        MailboxListReply, (await bus.request(subjects.MAILBOX_LIST, encode(request), timeout=5)).data
    )
    assert [(e.message_id, e.folder) for e in listing.entries if e.message_id.startswith(queue_id)] == [
        (f"{queue_id}.sent", "Sent")
    ]
    await audit.wait_for(queue_id, AuditCode.AUDIT_CODE_RELAYED, PROXY_PER)
