"""Another operator without a static route is reached through its MX hosts, over mutual TLS: the
unreachable best one is passed over for the next, and a null MX bounces at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from mss.bus import subjects
from mss.bus.blobs import put_blob
from mss.bus.codec import decode, encode, now_timestamp
from mss.core.tls import TlsFiles, server_context
from mss.devstack.pki import LocalPki
from mss.devstack.ports import free_port
from mss.devstack.sink import serve
from mss.egress.app import build as build_egress
from mss.egress.settings import EgressSettings
from mss.policy.app import build as build_policy
from mss.policy.settings import PolicySettings
from mss.testing.dns import Zone, dns_server
from mss.testing.fixtures import DEMO, RunningNats
from mss.testing.inprocess import running
from mss.v1 import AuditCode, AuditEvent, DeliveryRequested, Recipient, Route, RouteKind

pytestmark = pytest.mark.integration

OURS = "CN=smtp-1.ght-demo.example,OU=00000000000001,O=GHT DEMO,ST=Paris (75),C=FR"
PEER = "CN=smtp-1.autre-operateur.example,OU=00000000000002,O=AUTRE OPERATEUR,ST=Rhône (69),C=FR"
DOMAIN = "autre-operateur.mssante.fr"


@pytest.fixture
async def egress_to_mx(
    nats_server: RunningNats, bus: nats.NATS, tmp_path: Path
) -> AsyncIterator[tuple[list[AuditEvent], Path]]:
    pki = LocalPki(tmp_path / "pki")
    ours, theirs = pki.issue("ours", OURS), pki.issue("theirs", PEER)
    port = free_port()
    tls = server_context(
        TlsFiles(cert=theirs.chain_path, key=theirs.key_path, ca=pki.ca_bundle_path), require_client_cert=True
    )
    sink = await serve(tmp_path / "mail", "127.0.0.1", port, tls)
    zone = Zone(
        mx={
            DOMAIN: [(10, "mx-down.autre.example"), (20, "mx-up.autre.example")],
            "nulle.mssante.fr": [(0, ".")],
        },
        a={"mx-down.autre.example": ["127.0.0.2"], "mx-up.autre.example": ["127.0.0.1"]},
    )
    audit: list[AuditEvent] = []

    async def on_audit(msg: nats.aio.msg.Msg) -> None:
        audit.append(decode(AuditEvent, msg.data))

    await bus.subscribe(subjects.audit("egress"), cb=on_audit)
    common: dict[str, Any] = {"http_port": 0}
    async with dns_server(zone) as dns_port:
        egress = EgressSettings(
            **common,
            **nats_server.settings("egress"),
            dns_nameservers=[f"127.0.0.1:{dns_port}"],
            mx_port=port,
            tls_cert_file=ours.chain_path,
            tls_key_file=ours.key_path,
            tls_ca_file=pki.ca_bundle_path,
            retry_delays=[3600.0],
        )
        try:
            async with (
                running(
                    build_policy(
                        PolicySettings(
                            **common,
                            **nats_server.settings("policy"),
                            trust_list_path=DEMO / "listeblanchemssante.xml",
                        )
                    )
                ),
                running(build_egress(egress)),
            ):
                yield audit, tmp_path / "mail"
        finally:
            sink.close()


async def submit(bus: nats.NATS, message_id: str, recipient: str) -> None:
    request = DeliveryRequested(
        message_id=message_id,
        mail_from="",  # a report: nothing comes back whatever happens
        recipients=[Recipient(address=recipient, route=Route(kind=RouteKind.ROUTE_KIND_PEER))],
        body=await put_blob(bus.jetstream(), message_id, b"Subject: x\r\n\r\nx\r\n", 5),
    )
    request.received_at.CopyFrom(now_timestamp())
    await bus.jetstream().publish(subjects.DELIVER_REMOTE, encode(request))


async def outcome(audit: list[AuditEvent], message_id: str, until: Any) -> AuditEvent:
    found: list[AuditEvent] = []
    for _ in range(100):
        found = [e for e in audit if e.message_id == message_id]
        if found:
            break
        await until(audit, len(audit) + 1)
    return found[0]


async def test_the_next_mx_is_tried_when_the_best_cannot_be_reached(
    egress_to_mx: tuple[list[AuditEvent], Path], bus: nats.NATS, until: Any
) -> None:
    audit, mail = egress_to_mx
    await submit(bus, "01MXROUTE", f"dr.x@{DOMAIN}")
    event = await outcome(audit, "01MXROUTE", until)
    assert event.code == AuditCode.AUDIT_CODE_RELAYED
    assert event.next_hop.startswith("mx-up.autre.example:")  # mx-down (127.0.0.2) refused the connection
    assert event.tls.subject_dn.startswith("CN=smtp-1.autre-operateur.example")
    assert len(list(mail.glob("*.eml"))) == 1


async def test_a_domain_with_a_null_mx_bounces_at_once(
    egress_to_mx: tuple[list[AuditEvent], Path], bus: nats.NATS, until: Any
) -> None:
    audit, _ = egress_to_mx
    await submit(bus, "01MXNULL", "dr.y@nulle.mssante.fr")
    event = await outcome(audit, "01MXNULL", until)
    assert (event.code, event.reply) == (
        AuditCode.AUDIT_CODE_BOUNCED,
        "556 5.1.10 Domain nulle.mssante.fr accepts no mail (null MX)",
    )
