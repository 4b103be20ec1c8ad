"""A certificate revoked while ingress runs is refused once the CRL is read again; others still pass.

Each test has its own PKI (revocation changes it) and a real ingress on free ports; clients do real
STARTTLS handshakes with client certificates. Why ingress refused a handshake is read from the
verification error it reports (a client may only see the connection reset).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from mss.bus import streams
from mss.bus.service import BusService
from mss.devstack.pki import Issued, LocalPki
from mss.devstack.ports import free_port
from mss.ingress.app import build
from mss.ingress.server import Listeners
from mss.ingress.settings import IngressSettings
from mss.testing.fixtures import RunningNats
from mss.testing.inprocess import running
from mss.testing.smtp import client_tls

pytestmark = pytest.mark.integration

OPERATOR = "CN=smtp-1.ght-demo.example,OU=00000000000001,O=GHT DEMO,ST=Paris (75),C=FR"
PEER = "CN=smtp-1.autre-operateur.example,OU=00000000000002,O=AUTRE OPERATEUR,ST=Rhône (69),C=FR"
OTHER = "CN=smtp-2.autre-operateur.example,OU=00000000000002,O=AUTRE OPERATEUR,ST=Rhône (69),C=FR"
ACCEPTED, REFUSED = "accepted", "refused"


@dataclass
class Pki:
    """Our CA, ingress's certificate, a peer that stays good and one about to be revoked."""

    ca: LocalPki
    server: Issued
    kept: Issued
    doomed: Issued


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = LocalPki(tmp_path / "pki")
    return Pki(ca, ca.issue("server", OPERATOR), ca.issue("kept", PEER), ca.issue("doomed", OTHER))


@pytest.fixture
async def audit_stream(nats_server: RunningNats) -> AsyncIterator[None]:
    """The stream tracing would own (ingress creates its own)."""
    client = await nats_server.connect()
    try:
        await streams.ensure_stream(client.jetstream(), streams.AUDIT)
        yield
    finally:
        await client.close()


@asynccontextmanager
async def ingress(nats_server: RunningNats, pki: Pki, reload_interval: float) -> AsyncIterator[BusService]:
    settings = IngressSettings(
        **nats_server.settings("ingress"),
        http_port=0,
        peer_port=free_port(),
        submission_port=free_port(),
        hostname="mx.test",
        tls_cert_file=pki.server.chain_path,
        tls_key_file=pki.server.key_path,
        tls_ca_file=pki.ca.ca_bundle_path,
        tls_crl_file=pki.ca.crl_path,
        tls_reload_interval=reload_interval,
    )
    async with running(build(settings)) as service:
        yield service


def ports(service: BusService) -> tuple[int, int]:
    settings = service.settings
    assert isinstance(settings, IngressSettings)
    return settings.peer_port, settings.submission_port


async def handshake(port: int, identity: Issued, pki: Pki) -> str:
    """EHLO, STARTTLS with ``identity``, EHLO: ACCEPTED, REFUSED (TLS failed) or the EHLO reply."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def reply(line: bytes | None = None) -> str:
        if line is not None:
            writer.write(line + b"\r\n")
            await writer.drain()
        text = b""
        while text[3:4] != b" ":
            text = await asyncio.wait_for(reader.readline(), 10)
            if not text:
                raise ConnectionError("connection closed")
        return text.decode()

    try:
        await reply()  # banner
        await reply(b"EHLO smtp-1.autre-operateur.example")
        assert (await reply(b"STARTTLS")).startswith("220")
        try:
            await writer.start_tls(client_tls(identity, pki.ca.ca_bundle_path))
            ehlo = await reply(b"EHLO smtp-1.autre-operateur.example")
        except (ssl.SSLError, ConnectionError):
            return REFUSED
        return ACCEPTED if ehlo.startswith("250") else ehlo
    finally:
        writer.close()


async def until_refused(port: int, identity: Issued, pki: Pki, timeout: float = 15.0) -> str:
    """Try new handshakes until one is refused (bounded)."""
    async with asyncio.timeout(timeout):
        while (outcome := await handshake(port, identity, pki)) == ACCEPTED:
            await asyncio.sleep(0.05)
    return outcome


class Refusals(logging.Handler):
    """Why ingress refused each TLS handshake: the certificate verification message, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.reasons: asyncio.Queue[str] = asyncio.Queue()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "TLS handshake refused":
            self.reasons.put_nowait(str(record.__dict__["detail"]))

    async def next(self) -> str:
        return await asyncio.wait_for(self.reasons.get(), 10)


@pytest.fixture
def refusals() -> Iterator[Refusals]:
    """The TLS refusals ingress reports (one warning per refused handshake)."""
    handler, logger = Refusals(), logging.getLogger("mss.ingress.handler")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def listeners_of(service: BusService) -> Listeners:
    """The service's SMTP listeners (their start-up hook is a bound method)."""
    found = [getattr(hook, "__self__", None) for hook in service.startup]
    listeners = [candidate for candidate in found if isinstance(candidate, Listeners)]
    assert len(listeners) == 1, service.startup
    return listeners[0]


async def test_a_certificate_revoked_after_start_is_refused_after_load_tls(
    nats_server: RunningNats, audit_stream: None, pki: Pki, refusals: Refusals
) -> None:
    async with ingress(nats_server, pki, reload_interval=0) as service:
        peer_port, _ = ports(service)
        assert await handshake(peer_port, pki.doomed, pki) == ACCEPTED
        pki.ca.revoke("doomed")
        # nothing re-reads the files yet: the CRL in force is the one read at start-up
        assert await handshake(peer_port, pki.doomed, pki) == ACCEPTED

        listeners_of(service).load_tls()

        assert await handshake(peer_port, pki.doomed, pki) == REFUSED
        assert await refusals.next() == "certificate revoked"
        assert await handshake(peer_port, pki.kept, pki) == ACCEPTED


async def test_the_periodic_reload_takes_a_new_crl_on_both_listeners(
    nats_server: RunningNats, audit_stream: None, pki: Pki, refusals: Refusals
) -> None:
    async with ingress(nats_server, pki, reload_interval=0.2) as service:
        peer_port, submission_port = ports(service)
        for port in (peer_port, submission_port):
            assert await handshake(port, pki.doomed, pki) == ACCEPTED

        pki.ca.revoke("doomed")

        assert await until_refused(peer_port, pki.doomed, pki) == REFUSED
        assert await refusals.next() == "certificate revoked"
        assert await handshake(submission_port, pki.doomed, pki) == REFUSED
        assert await refusals.next() == "certificate revoked"
        for port in (peer_port, submission_port):
            assert await handshake(port, pki.kept, pki) == ACCEPTED


@pytest.fixture
def reload_failed() -> Iterator[asyncio.Event]:
    """Set when ingress reports TLS files it could not reload."""
    event = asyncio.Event()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "TLS files not reloaded" in record.getMessage():
                event.set()

    handler, logger = Watch(), logging.getLogger("mss.ingress.server")
    logger.addHandler(handler)
    try:
        yield event
    finally:
        logger.removeHandler(handler)


async def test_an_unreadable_crl_keeps_the_previous_one_in_force(
    nats_server: RunningNats, audit_stream: None, pki: Pki, refusals: Refusals, reload_failed: asyncio.Event
) -> None:
    async with ingress(nats_server, pki, reload_interval=0.2) as service:
        peer_port, _ = ports(service)
        pki.ca.revoke("doomed")
        assert await until_refused(peer_port, pki.doomed, pki) == REFUSED
        assert await refusals.next() == "certificate revoked"
        reload_failed.clear()  # a reload may have caught the CRL half written

        pki.ca.crl_path.write_bytes(b"-----BEGIN X509 CRL-----\nnot a CRL\n-----END X509 CRL-----\n")
        await asyncio.wait_for(reload_failed.wait(), 10)

        assert await handshake(peer_port, pki.doomed, pki) == REFUSED
        assert await refusals.next() == "certificate revoked"
        assert await handshake(peer_port, pki.kept, pki) == ACCEPTED
