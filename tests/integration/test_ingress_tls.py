"""Peer operators over mutual TLS: what the handshake refuses, with real TLS clients."""

from __future__ import annotations

import asyncio
import ssl
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from mss.bus import streams, subjects
from mss.bus.codec import encode
from mss.bus.connection import settled
from mss.core.tls import TlsFiles, client_context
from mss.devstack.pki import Issued, LocalPki
from mss.devstack.ports import free_port
from mss.ingress.app import build
from mss.ingress.settings import IngressSettings
from mss.testing.fixtures import RunningNats
from mss.testing.inprocess import running
from mss.v1 import SenderCheckReply, Verdict
from prometheus_client import REGISTRY

pytestmark = pytest.mark.integration

OPERATOR = "CN=smtp-1.ght-demo.example,OU=00000000000001,O=GHT DEMO,ST=Paris (75),C=FR"
PEER = "CN=smtp-1.autre-operateur.example,OU=00000000000002,O=AUTRE OPERATEUR,ST=Rhône (69),C=FR"


class Pkis:
    """Our CA with good, expired, future and revoked peers, and a foreign CA."""

    def __init__(self, folder: Path) -> None:
        self.ca = LocalPki(folder / "igc", "TEST")
        self.server = self.ca.issue("server", OPERATOR)
        self.peer = self.ca.issue("peer", PEER)
        self.expired = self.ca.issue("expired", PEER, days=10, valid_from_days=-20)
        self.future = self.ca.issue("future", PEER, valid_from_days=2)
        self.revoked = self.ca.issue("revoked", PEER)
        self.ca.revoke("revoked")
        self.foreign_ca = LocalPki(folder / "foreign", "FOREIGN")
        self.foreign = self.foreign_ca.issue("peer", PEER)


@pytest.fixture(scope="module")
def pkis(tmp_path_factory: pytest.TempPathFactory) -> Pkis:
    return Pkis(tmp_path_factory.mktemp("pkis"))


@pytest.fixture
async def ingress(nats_server: RunningNats, pkis: Pkis) -> AsyncIterator[IngressSettings]:
    """An ingress whose policy accepts every sender: what is refused here is refused by TLS."""
    client = await nats_server.connect()
    await streams.ensure_stream(client.jetstream(), streams.AUDIT)
    ok = encode(
        SenderCheckReply(verdict=Verdict.VERDICT_ACCEPT, smtp_code=250, enhanced_code="2.1.0", reason="ok")
    )

    async def accept(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(ok)

    await client.subscribe(subjects.SENDER_CHECK, cb=accept)
    await settled(client)
    settings = IngressSettings(
        **nats_server.settings("ingress"),
        http_port=0,
        peer_port=free_port(),
        submission_port=free_port(),
        tls_cert_file=pkis.server.chain_path,
        tls_key_file=pkis.server.key_path,
        tls_ca_file=pkis.ca.ca_bundle_path,
        tls_crl_file=pkis.ca.crl_path,
    )
    try:
        async with running(build(settings)):
            yield settings
    finally:
        await client.close()


def client(
    identity: Issued | None, ca: Path, *, ciphers: str | None = None, tls11: bool = False
) -> ssl.SSLContext:
    files = TlsFiles(
        cert=identity.chain_path if identity else None, key=identity.key_path if identity else None, ca=ca
    )
    context = client_context(files)
    if ciphers is not None:
        context.set_ciphers(ciphers)
    if tls11:
        with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


async def mail_over_starttls(port: int, context: ssl.SSLContext) -> str:
    """EHLO, STARTTLS, EHLO, MAIL FROM: the reply to MAIL (raises when TLS fails)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:

        async def command(line: bytes) -> str:
            writer.write(line + b"\r\n")
            await writer.drain()
            reply = b""
            while reply[3:4] != b" ":
                reply = await asyncio.wait_for(reader.readline(), 10)
                if not reply:
                    raise ConnectionError("connection closed")
            return reply.decode().strip()

        await asyncio.wait_for(reader.readline(), 10)  # banner
        await command(b"EHLO smtp-1.autre-operateur.example")
        assert (await command(b"STARTTLS")).startswith("220")
        await writer.start_tls(context)
        await command(b"EHLO smtp-1.autre-operateur.example")
        return await command(b"MAIL FROM:<dr@autre-operateur.mssante.fr>")
    finally:
        writer.close()


async def test_a_listed_peer_certificate_opens_the_session(ingress: IngressSettings, pkis: Pkis) -> None:
    reply = await mail_over_starttls(ingress.peer_port, client(pkis.peer, pkis.ca.ca_bundle_path))
    assert reply.startswith("250 2.1.0")


@pytest.mark.parametrize("case", ["no-certificate", "foreign-ca", "expired", "not-yet-valid", "revoked"])
async def test_bad_client_certificates_fail_the_handshake(
    ingress: IngressSettings, pkis: Pkis, case: str
) -> None:
    identity = {
        "no-certificate": None,
        "foreign-ca": pkis.foreign,
        "expired": pkis.expired,
        "not-yet-valid": pkis.future,
        "revoked": pkis.revoked,
    }[case]
    before = refused_handshakes()
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await mail_over_starttls(ingress.peer_port, client(identity, pkis.ca.ca_bundle_path))
    for _ in range(200):  # the server notices the failed handshake on its side of the connection
        if refused_handshakes() > before:
            break
        await asyncio.sleep(0.01)
    assert refused_handshakes() == before + 1


def refused_handshakes() -> float:
    """Peer-listener TLS refusals counted by ingress (/metrics), all reasons."""
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "mss_ingress_tls_refused"
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels["listener"] == "LISTENER_PEER"
    )


async def test_tls_1_1_is_refused(ingress: IngressSettings, pkis: Pkis) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await mail_over_starttls(ingress.peer_port, client(pkis.peer, pkis.ca.ca_bundle_path, tls11=True))


async def test_a_cipher_outside_the_four_ecdhe_rsa_suites_is_refused(
    ingress: IngressSettings, pkis: Pkis
) -> None:
    context = client(pkis.peer, pkis.ca.ca_bundle_path, ciphers="AES128-GCM-SHA256")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await mail_over_starttls(ingress.peer_port, context)
    # the same client with a listed suite gets through: the refusal is about the suite
    listed = client(pkis.peer, pkis.ca.ca_bundle_path, ciphers="ECDHE-RSA-AES128-SHA256")
    assert (await mail_over_starttls(ingress.peer_port, listed)).startswith("250")
