"""Egress to another operator: mutual TLS, and a server certificate not listed means deferral."""

from __future__ import annotations

from pathlib import Path

import pytest
from mss.core.tls import DnMatch, TlsFiles, client_context, dn_matches, server_context
from mss.devstack.pki import LocalPki
from mss.devstack.ports import free_port
from mss.devstack.sink import serve
from mss.egress.domain.outcome import Outcome
from mss.egress.relay import Envelope, Hop, relay

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
