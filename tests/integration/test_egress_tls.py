"""Egress to another operator: mutual TLS, a server certificate not listed means deferral, and a new CRL
takes effect when egress reads its TLS files again."""

from __future__ import annotations

from pathlib import Path

import pytest
from mss.bus.service import BusService
from mss.core.tls import DnMatch, TlsFiles, client_context, dn_matches, server_context
from mss.devstack.pki import LocalPki
from mss.devstack.ports import free_port
from mss.devstack.sink import serve
from mss.egress.app import Egress
from mss.egress.domain.outcome import Outcome
from mss.egress.relay import Envelope, Hop, relay
from mss.egress.settings import EgressSettings

pytestmark = pytest.mark.integration

OURS = "CN=smtp-1.ght-demo.example,OU=00000000000001,O=GHT DEMO,ST=Paris (75),C=FR"
PEER = "CN=smtp-1.autre-operateur.example,OU=00000000000002,O=AUTRE OPERATEUR,ST=Rhône (69),C=FR"


async def send_to_peer(tmp_path: Path, server_dn: str, listed_dn: str):
    pki = LocalPki(tmp_path / "pki")
    ours, theirs = pki.issue("ours", OURS), pki.issue("theirs", server_dn)
    port = free_port()
    tls = server_context(
        TlsFiles(cert=theirs.chain_path, key=theirs.key_path, ca=pki.ca_bundle_path), require_client_cert=True
    )
    server = await serve(tmp_path / "mail", "127.0.0.1", port, tls)
    client = client_context(TlsFiles(cert=ours.chain_path, key=ours.key_path, ca=pki.ca_bundle_path))

    def accept(cert) -> str | None:
        return None if dn_matches(listed_dn, cert.subject_dn, cert.common_name, DnMatch.DN) else "not listed"

    try:
        return await relay(
            Hop("127.0.0.1", port, client, accept),
            helo="mx.test",
            envelope=Envelope("a@chu-demo.mssante.fr", ["dr@autre-operateur.mssante.fr"]),
            content=b"Subject: x\r\n\r\nx\r\n",
            connect_timeout=10,
            command_timeout=10,
        )
    finally:
        server.close()
        await server.wait_closed()


async def test_listed_server_certificate_gets_the_message(tmp_path: Path) -> None:
    attempt = await send_to_peer(tmp_path, PEER, PEER)
    assert [r.outcome for r in attempt.results] == [Outcome.DELIVERED]
    assert attempt.tls is not None
    assert attempt.tls.subject_dn == PEER
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


async def test_unlisted_server_certificate_defers_and_sends_nothing(tmp_path: Path) -> None:
    impostor = PEER.replace("OU=00000000000002", "OU=99999999999999")
    attempt = await send_to_peer(tmp_path, impostor, PEER)
    assert [(r.outcome, r.reply[:9]) for r in attempt.results] == [(Outcome.DEFERRED, "451 4.7.5")]
    assert list((tmp_path / "mail").glob("*.eml")) == []


async def test_a_peer_certificate_revoked_after_start_is_refused_once_egress_reloads(tmp_path: Path) -> None:
    pki = LocalPki(tmp_path / "pki")
    ours, theirs = pki.issue("ours", OURS), pki.issue("theirs", PEER)
    settings = EgressSettings(
        nats_url="nats://127.0.0.1:1",
        http_port=0,
        tls_cert_file=ours.chain_path,
        tls_key_file=ours.key_path,
        tls_ca_file=pki.ca_bundle_path,
        tls_crl_file=pki.crl_path,
    )
    egress = Egress(BusService("egress", settings), settings)
    port = free_port()
    server_tls = server_context(
        TlsFiles(cert=theirs.chain_path, key=theirs.key_path, ca=pki.ca_bundle_path), require_client_cert=True
    )
    server = await serve(tmp_path / "mail", "127.0.0.1", port, server_tls)

    async def send() -> list[tuple[Outcome, str]]:
        attempt = await relay(
            Hop("127.0.0.1", port, egress.tls, lambda cert: None),
            helo="mx.test",
            envelope=Envelope("a@chu-demo.mssante.fr", ["dr@autre-operateur.mssante.fr"]),
            content=b"Subject: x\r\n\r\nx\r\n",
            connect_timeout=10,
            command_timeout=10,
        )
        return [(r.outcome, r.reply[:9]) for r in attempt.results]

    try:
        assert await send() == [(Outcome.DELIVERED, "250 2.0.0")]
        pki.revoke("theirs")
        assert await send() == [(Outcome.DELIVERED, "250 2.0.0")]  # the CRL read at start still holds
        egress.load_tls()  # what the periodic reload does
        outcome, reply = (await send())[0]
        assert outcome == Outcome.DEFERRED
        assert reply.startswith("4")
    finally:
        server.close()
        await server.wait_closed()
