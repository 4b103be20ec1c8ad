"""Delivery to real SMTP next hops: retries as JetStream message schedules, partial bounces with an
RFC 3464 report to the sender, the lifetime limit, a dead destination's backlog beside a healthy
one, and the operator's queue commands. Directory, policy, storage and egress run in the test's
loop against real NATS and PostgreSQL; the report comes back to the sender's hosted mailbox."""

from __future__ import annotations

import asyncio
import email
import getpass
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email import policy as email_policy
from email.message import Message
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest
from mss.bus import queue, subjects
from mss.bus.blobs import put_blob
from mss.bus.codec import decode, encode, now_timestamp
from mss.cli.__main__ import run as mss
from mss.cli.settings import CliSettings
from mss.core.ids import new_queue_id
from mss.devstack.pki import LocalPki
from mss.devstack.ports import free_port
from mss.devstack.sink import serve, starttls_only
from mss.directory.app import build as build_directory
from mss.directory.seed import apply_seed, load_seed
from mss.directory.settings import DirectorySettings
from mss.egress.app import build as build_egress
from mss.egress.settings import EgressSettings
from mss.ingress.dsn import DsnSMTP, RcptDsn
from mss.policy.app import build as build_policy
from mss.policy.settings import PolicySettings
from mss.storage.app import build as build_storage
from mss.storage.settings import StorageSettings
from mss.testing.fixtures import DEMO, RunningNats
from mss.testing.inprocess import running
from mss.testing.sinks import Script, scripted_sink
from mss.v1 import (
    AuditCode,
    AuditEvent,
    DeliveryRequested,
    DsnRequest,
    QueueReply,
    QueueRequest,
    Recipient,
    Route,
    RouteKind,
    SmarthostTls,
)

pytestmark = pytest.mark.integration

JEAN = "jean.martin@chu-demo.mssante.fr"
CONTENT = b"Subject: Compte rendu\r\nMessage-ID: <cr-1@chu-demo>\r\n\r\nDonnees de sante.\r\n"


@dataclass
class Delivery:
    """The running services, what they audited, and a way to hand them a message."""

    bus: nats.NATS
    audit: list[AuditEvent]
    database_url: str
    ops: dict[str, str]
    """How the ``mss`` command connects (the operator's NATS identity)."""

    async def submit(
        self,
        recipients: list[str],
        hop: str,
        mail_from: str = JEAN,
        notify: str = "",
        dsn: DsnRequest | None = None,
        kind: RouteKind.ValueType = RouteKind.ROUTE_KIND_PROXY,
        smarthost_tls: SmarthostTls.ValueType = SmarthostTls.SMARTHOST_TLS_NONE,
    ) -> str:
        """A message accepted for ``recipients`` of a proxy domain whose server is ``hop`` (or, with
        ``kind`` LOCAL, of our hosted mailboxes), with the DSN parameters given at ingress. The
        scripted sinks speak plain SMTP: the establishment chose ``none`` unless told otherwise."""
        message_id = new_queue_id()
        request = DeliveryRequested(
            message_id=message_id,
            mail_from=mail_from,
            recipients=[
                Recipient(
                    address=r,
                    route=Route(kind=kind, tenant_id="ch-exemple", next_hop=hop, smarthost_tls=smarthost_tls),
                    notify=notify,
                    orcpt=f"rfc822;{r.upper()}" if notify else "",
                )
                for r in recipients
            ],
            body=await put_blob(self.bus.jetstream(), message_id, CONTENT, 5),
            dsn=dsn,
        )
        request.received_at.CopyFrom(now_timestamp())
        local = kind == RouteKind.ROUTE_KIND_LOCAL
        await self.bus.jetstream().publish(
            subjects.DELIVER_LOCAL if local else subjects.DELIVER_REMOTE, encode(request)
        )
        return message_id

    async def events(self, message_id: str, code: int, count: int = 1) -> list[AuditEvent]:
        """The message's events of one kind, once ``count`` have arrived (bounded wait)."""
        for _ in range(1500):
            found = [e for e in self.audit if e.message_id == message_id and e.code == code]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.01)
        raise AssertionError(f"{len(found)} of {count} {AuditCode.Name(code)} for {message_id}")

    async def report_for(self, message_id: str) -> Message:
        """The delivery status notification about ``message_id`` stored in Jean's mailbox."""
        reported = await self.events(message_id, AuditCode.AUDIT_CODE_REPORTED)
        report_id = reported[0].reason.split()[3]
        conn = await asyncpg.connect(self.database_url)
        try:
            for _ in range(1500):
                content = await conn.fetchval(
                    "SELECT content FROM stored_messages WHERE mailbox = $1 AND message_id = $2",
                    JEAN,
                    report_id,
                )
                if content is not None:
                    return email.message_from_bytes(bytes(content), policy=email_policy.compat32)
                await asyncio.sleep(0.01)
        finally:
            await conn.close()
        raise AssertionError(f"report {report_id} not stored")


@pytest.fixture
def egress_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    return dict(getattr(request, "param", {}))


@pytest.fixture
async def delivery(
    nats_server: RunningNats, database_url: str, bus: nats.NATS, egress_overrides: dict[str, object]
) -> AsyncIterator[Delivery]:
    conn = await asyncpg.connect(database_url)
    try:
        await apply_seed(conn, load_seed(DEMO / "seed.yaml"))
    finally:
        await conn.close()
    audit: list[AuditEvent] = []

    async def on_audit(msg: nats.aio.msg.Msg) -> None:
        audit.append(decode(AuditEvent, msg.data))

    await bus.subscribe(f"{subjects.AUDIT_PREFIX}.>", cb=on_audit)
    common: dict[str, Any] = {"http_port": 0}
    egress = EgressSettings(
        **{
            **common,
            **nats_server.settings("egress"),
            "hostname": "mss.test",
            "retry_delays": [0.5],
            **egress_overrides,
        }
    )
    async with (
        running(
            build_directory(
                DirectorySettings(**common, **nats_server.settings("directory"), database_url=database_url)
            )
        ),
        running(
            build_policy(
                PolicySettings(
                    **common,
                    **nats_server.settings("policy"),
                    trust_list_path=DEMO / "listeblanchemssante.xml",
                )
            )
        ),
        running(
            build_storage(
                StorageSettings(**common, **nats_server.settings("storage"), database_url=database_url)
            )
        ),
        running(build_egress(egress)),
    ):
        yield Delivery(bus, audit, database_url, nats_server.settings("ops"))


def status_fields(report: Message) -> list[Message]:
    """The per-recipient blocks of a report's message/delivery-status part."""
    part = next(p for p in report.walk() if p.get_content_type() == "message/delivery-status")
    blocks = part.get_payload()
    assert isinstance(blocks, list)
    return blocks[1:]  # the first block is about the message


async def test_a_destination_that_defers_then_accepts_gets_the_message_once(delivery: Delivery) -> None:
    script = Script(defer={"claire.durand@ch-exemple.mssante.fr": 2})
    async with scripted_sink(script) as hop:
        message_id = await delivery.submit(["claire.durand@ch-exemple.mssante.fr"], hop)
        relayed = await delivery.events(message_id, AuditCode.AUDIT_CODE_RELAYED)
    deferred = await delivery.events(message_id, AuditCode.AUDIT_CODE_DEFERRED, 2)
    assert [e.attempt for e in deferred] == [1, 2]
    assert deferred[0].reply.startswith("451 4.3.0")
    assert relayed[0].attempt == 3
    assert len(script.received) == 1
    assert script.received[0][1].endswith(CONTENT)  # our Received header on top, the body untouched


async def test_a_recipient_refused_by_the_next_hop_is_reported_to_the_sender(delivery: Delivery) -> None:
    script = Script(refuse={"nobody@ch-exemple.mssante.fr"})
    async with scripted_sink(script) as hop:
        message_id = await delivery.submit(
            ["claire.durand@ch-exemple.mssante.fr", "nobody@ch-exemple.mssante.fr"], hop
        )
        report = await delivery.report_for(message_id)
    assert [r for r, _ in script.received] == [["claire.durand@ch-exemple.mssante.fr"]]
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    assert report["To"] == f"<{JEAN}>"
    assert report["Auto-Submitted"] == "auto-replied"
    (block,) = status_fields(report)
    assert block["Final-Recipient"] == "rfc822; nobody@ch-exemple.mssante.fr"
    assert (block["Action"], block["Status"]) == ("failed", "5.1.1")
    assert block["Remote-MTA"] == f"dns; {hop}"
    assert "User unknown" in block["Diagnostic-Code"]
    headers = next(p for p in report.walk() if p.get_content_type() == "text/rfc822-headers")
    returned = headers.get_payload()
    assert "Subject: Compte rendu" in returned
    assert "Donnees de sante" not in report.as_string()  # health data is never sent back
    bounced = await delivery.events(message_id, AuditCode.AUDIT_CODE_BOUNCED)
    assert bounced[0].recipient == "nobody@ch-exemple.mssante.fr"


@pytest.mark.parametrize("egress_overrides", [{"max_lifetime": 1.0}], indirect=True)
async def test_a_destination_down_for_the_whole_lifetime_bounces_with_a_report(delivery: Delivery) -> None:
    hop = f"127.0.0.1:{free_port()}"  # nobody listens
    message_id = await delivery.submit(["claire.durand@ch-exemple.mssante.fr"], hop)
    bounced = await delivery.events(message_id, AuditCode.AUDIT_CODE_BOUNCED)
    assert bounced[0].reply.endswith("(message lifetime exceeded)")
    assert bounced[0].attempt >= 2
    (block,) = status_fields(await delivery.report_for(message_id))
    assert block["Status"] == "4.4.1"  # the last temporary failure, as Postfix reports it
    assert "connection failed" in block["Diagnostic-Code"]


@pytest.mark.parametrize("egress_overrides", [{"retry_delays": [3600.0]}], indirect=True)
async def test_a_dead_destinations_backlog_holds_nothing_back_and_operators_act_on_it(
    delivery: Delivery, tmp_path: Path
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    waiting = [await delivery.submit([f"r{n}@ch-exemple.mssante.fr"], dead) for n in range(30)]
    for message_id in waiting:
        await delivery.events(message_id, AuditCode.AUDIT_CODE_DEFERRED)
    js = delivery.bus.jetstream()
    script = Script()
    async with scripted_sink(script) as healthy:
        message_id = await delivery.submit(["claire.durand@ch-exemple.mssante.fr"], healthy)
        await delivery.events(message_id, AuditCode.AUDIT_CODE_RELAYED)
        assert (await queue.backlog(js))[dead] == (30, 0)  # still waiting: the healthy one went first
        settings = CliSettings(**delivery.ops)
        out = io.StringIO()
        assert await mss(["queue", "list"], settings, out) == 0
        assert f"{dead}\t30 scheduled\t0 held" in out.getvalue()
        first, second = waiting[0], waiting[1]
        assert await mss(["queue", "hold", dead, "--message", first], settings, io.StringIO()) == 0
        assert (await queue.backlog(js))[dead] == (29, 1)
        changed = await delivery.events(first, AuditCode.AUDIT_CODE_QUEUE_CHANGED)
        assert changed[0].reason.startswith(f"hold by ops, user {getpass.getuser()!r} by their own account")
        assert (
            await mss(["queue", "cancel", dead, "--message", second, "--reason", "closed"], settings, out)
            == 0
        )
        (block,) = status_fields(await delivery.report_for(second))
        assert "cancelled by the operator: closed" in block["Diagnostic-Code"]
        assert await mss(["queue", "release", dead, "--message", first], settings, io.StringIO()) == 0
        attempts = await delivery.events(first, AuditCode.AUDIT_CODE_DEFERRED, 2)
        assert attempts[1].attempt == 2
    for _ in range(500):  # the retry is scheduled just after the attempt is audited
        if (await queue.backlog(js))[dead] == (29, 0):
            break
        await asyncio.sleep(0.01)
    assert (await queue.backlog(js))[dead] == (29, 0)
    assert await mss(["queue", "show", "nowhere:25"], CliSettings(**delivery.ops), out) == 1
    for wrong, error in (
        (QueueRequest(command="drop", destination=dead), "unknown command 'drop'"),
        (QueueRequest(command="cancel", destination=dead, reason=" "), "a reason is required to cancel"),
        (QueueRequest(command="hold"), "a destination is required"),
    ):
        reply = decode(
            QueueReply,
            (
                await delivery.bus.request(
                    subjects.as_caller(subjects.QUEUE, "ops"), encode(wrong), timeout=5
                )
            ).data,
        )
        assert reply.error == error
    assert (await queue.backlog(js))[dead] == (29, 0)  # nothing changed


@pytest.mark.parametrize("egress_overrides", [{"destination_concurrency": 2, "workers": 8}], indirect=True)
async def test_a_slow_destination_gets_its_window_and_never_the_workers_a_fast_one_needs(
    delivery: Delivery,
) -> None:
    slow_script, fast_script = Script(gate=asyncio.Event()), Script()
    async with scripted_sink(slow_script) as slow, scripted_sink(fast_script) as fast:
        slow_ids = [await delivery.submit([f"s{n}@ch-exemple.mssante.fr"], slow) for n in range(20)]
        fast_ids = [await delivery.submit([f"f{n}@ch-exemple.mssante.fr"], fast) for n in range(5)]
        for message_id in fast_ids:  # while every slow transaction is stuck at DATA
            await delivery.events(message_id, AuditCode.AUDIT_CODE_RELAYED)
        assert slow_script.received == []
        assert slow_script.most_in_data <= 2  # its window, not the 8 workers
        slow_script.gate.set()  # type: ignore[union-attr]
        for message_id in slow_ids:
            await delivery.events(message_id, AuditCode.AUDIT_CODE_RELAYED)
    assert len(slow_script.received) == 20
    assert not [e for e in delivery.audit if e.code == AuditCode.AUDIT_CODE_DEFERRED]  # waiting is no attempt


async def test_success_is_reported_when_asked_and_nothing_when_never(delivery: Delivery) -> None:
    script = Script(refuse={"nobody@ch-exemple.mssante.fr"})
    async with scripted_sink(script) as hop:  # a server that does not offer DSN itself
        silent = await delivery.submit(["nobody@ch-exemple.mssante.fr"], hop, notify="NEVER")
        relayed = await delivery.submit(
            ["claire.durand@ch-exemple.mssante.fr"], hop, notify="SUCCESS", dsn=DsnRequest(envid="CR-2026-42")
        )
        report = await delivery.report_for(relayed)
    await delivery.events(silent, AuditCode.AUDIT_CODE_BOUNCED)
    (block,) = status_fields(report)
    assert (block["Action"], block["Status"]) == ("relayed", "2.0.0")
    assert block["Original-Recipient"] == "rfc822;CLAIRE.DURAND@CH-EXEMPLE.MSSANTE.FR"
    assert report["Subject"] == "Successful Mail Delivery Report"
    assert "CR-2026-42" in report.as_string()
    stored = await delivery.submit([JEAN], "", notify="SUCCESS,FAILURE", kind=RouteKind.ROUTE_KIND_LOCAL)
    (block,) = status_fields(await delivery.report_for(stored))
    assert (block["Action"], block["Final-Recipient"]) == ("delivered", f"rfc822; {JEAN}")
    assert not [
        e for e in delivery.audit if e.message_id == silent and e.code == AuditCode.AUDIT_CODE_REPORTED
    ]


async def test_a_next_hop_that_offers_dsn_gets_the_parameters_and_reports_success_itself(
    delivery: Delivery,
) -> None:
    script = Script(offer_dsn=True)
    async with scripted_sink(script, DsnSMTP) as hop:
        message_id = await delivery.submit(
            ["claire.durand@ch-exemple.mssante.fr"],
            hop,
            notify="SUCCESS",
            dsn=DsnRequest(ret="HDRS", envid="e 1"),
        )
        await delivery.events(message_id, AuditCode.AUDIT_CODE_RELAYED)
    assert script.dsn_seen == [RcptDsn("SUCCESS", "rfc822;CLAIRE.DURAND@CH-EXEMPLE.MSSANTE.FR")]
    later = await delivery.submit(
        ["nobody@ch-exemple.mssante.fr"], f"127.0.0.1:{free_port()}", notify="NEVER"
    )
    await delivery.events(later, AuditCode.AUDIT_CODE_DEFERRED)
    assert not [
        e for e in delivery.audit if e.message_id == message_id and e.code == AuditCode.AUDIT_CODE_REPORTED
    ]


async def test_an_establishment_server_gets_starttls_and_never_plain_text(
    delivery: Delivery, tmp_path: Path
) -> None:
    plain = Script()
    async with scripted_sink(plain) as hop:  # offers no STARTTLS
        refused = await delivery.submit(
            ["claire.durand@ch-exemple.mssante.fr"], hop, smarthost_tls=SmarthostTls.SMARTHOST_TLS_ENCRYPT
        )
        deferred = await delivery.events(refused, AuditCode.AUDIT_CODE_DEFERRED)
    assert "TLS failed" in deferred[0].reply
    assert plain.received == []  # no fallback to plain text
    identity = LocalPki(tmp_path / "pki").issue(
        "exchange", "CN=exchange.ch-exemple.example,O=CH EXEMPLE,C=FR"
    )
    port = free_port()
    server = await serve(
        tmp_path / "mail",
        "127.0.0.1",
        port,
        starttls_only(identity.chain_path, identity.key_path),
    )
    try:
        sent = await delivery.submit(
            ["claire.durand@ch-exemple.mssante.fr"],
            f"127.0.0.1:{port}",
            smarthost_tls=SmarthostTls.SMARTHOST_TLS_ENCRYPT,
        )
        relayed = await delivery.events(sent, AuditCode.AUDIT_CODE_RELAYED)
    finally:
        server.close()
    assert relayed[0].tls.tls_version.startswith("TLSv1.")
    assert (relayed[0].tls.subject_dn, len(relayed[0].tls.fingerprint_sha256)) == (
        "",
        64,
    )  # encrypted, not vouched for
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


async def test_a_connection_is_reused_for_the_next_delivery_and_replaced_when_closed(
    delivery: Delivery,
) -> None:
    script = Script(closing={3})  # the third MAIL FROM is answered as by a server closing an idle link
    async with scripted_sink(script) as hop:
        for n in range(4):
            message_id = await delivery.submit([f"r{n}@ch-exemple.mssante.fr"], hop)
            await delivery.events(message_id, AuditCode.AUDIT_CODE_RELAYED)
    assert len(script.received) == 4
    assert script.ehlos == 2  # one connection for the first two, a new one after the 421
    assert not [e for e in delivery.audit if e.code == AuditCode.AUDIT_CODE_DEFERRED]
