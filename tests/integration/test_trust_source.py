"""The allowed-domain list from an HTTPS source: pinned CA, checksum, conditional GET, size limit.

A real aiohttp HTTPS server on 127.0.0.1 serves the list; its certificate comes from a local PKI
shaped like IGC-Santé (a name ``localhost`` so the host name check applies). Policy's list sync runs
against a real nats-server, so "the last good list is kept" is checked where it lives: in the
replica's holder and in the bucket.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

import pytest
from aiohttp import web
from mss.core.errors import ConfigError, DataError, UnavailableError
from mss.devstack.pki import Issued, LocalPki
from mss.devstack.ports import free_port
from mss.policy.domain.trustlist import NAMESPACE
from mss.policy.trust.holder import TrustHolder
from mss.policy.trust.loader import SourceConfig
from mss.policy.trust.sync import TrustSync
from mss.testing.fixtures import RunningNats
from nats.js.errors import KeyNotFoundError
from prometheus_client import REGISTRY

pytestmark = pytest.mark.integration

SERVER_DN = "CN=localhost,OU=00000000000009,O=ANS LISTE BLANCHE,ST=Paris (75),C=FR"
CHUNK = b"x" * 65_536
ENDLESS = 128 * 1024 * 1024
"""What the oversized sources would send in all; the client must hang up long before."""


def listing(*domains: str, generated: str = "2026-01-02T03:04:05Z") -> bytes:
    """An ANS list naming ``domains``."""
    entries = "".join(
        f"<Domaine><Nom>{name}</Nom><DNCertificatOperateur>CN=smtp.{name},O=OP,C=FR"
        "</DNCertificatOperateur></Domaine>"
        for name in domains
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ListeBlancheMSSante xmlns="{NAMESPACE}">'
        f"<DateDeGeneration>{generated}</DateDeGeneration><ListeDomaines>{entries}</ListeDomaines>"
        "</ListeBlancheMSSante>"
    ).encode()


FIRST = listing("a.mssante.fr", "b.mssante.fr")
SECOND = listing("a.mssante.fr", "b.mssante.fr", "c.mssante.fr", generated="2026-02-02T03:04:05Z")


def serving(identity: Issued) -> ssl.SSLContext:
    """A server context presenting ``identity``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(identity.chain_path, identity.key_path)
    return context


@dataclass
class Request:
    """One request the server received, and its answer."""

    path: str
    headers: dict[str, str]
    status: int = 0


@dataclass
class ListServer:
    """Serves ``/liste.xml`` (ETag, Last-Modified, 304) and ``/checksum``; records every request.

    ``mode`` "announced" answers the list with a huge Content-Length, "endless" with a chunked body
    that never ends; ``sent`` counts the body bytes written and ``hung_up`` is set when the client
    went away before the end.
    """

    tls: ssl.SSLContext
    port: int = field(default_factory=free_port)
    body: bytes = b""
    checksum: bytes = b""
    etag: str = ""
    last_modified: str = ""
    mode: str = "list"
    requests: list[Request] = field(default_factory=list)
    sent: int = 0
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    copies: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}/liste.xml"

    @property
    def checksum_url(self) -> str:
        return f"https://localhost:{self.port}/checksum"

    def publish(self, body: bytes, *, checksum_too: bool = True) -> None:
        """Serve ``body`` from now on (new validators; its digest in /checksum unless told not to)."""
        digest = hashlib.sha256(body).hexdigest()
        self.copies += 1
        self.body, self.etag = body, f'"{digest[:20]}"'
        self.last_modified = formatdate(1_767_225_600 + 86_400 * self.copies, usegmt=True)
        if checksum_too:
            self.checksum = f"{digest}  listeblanchemssante.xml\n".encode()

    def of(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]

    async def _list(self, request: web.Request) -> web.StreamResponse:
        seen = Request("/liste.xml", dict(request.headers))
        self.requests.append(seen)
        if self.mode != "list":
            return await self._oversized(request, seen)
        if self.etag and request.headers.get("If-None-Match") == self.etag:
            seen.status = 304
            return web.Response(status=304, headers={"ETag": self.etag})
        seen.status = 200
        return web.Response(body=self.body, headers={"ETag": self.etag, "Last-Modified": self.last_modified})

    async def _oversized(self, request: web.Request, seen: Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/xml"})
        if self.mode == "announced":
            response.content_length = ENDLESS
        seen.status = 200
        self.sent, self.hung_up = 0, asyncio.Event()
        try:
            await response.prepare(request)
            while self.sent < ENDLESS:
                await response.write(CHUNK)
                self.sent += len(CHUNK)
        except ConnectionError:
            self.hung_up.set()
        except asyncio.CancelledError:
            self.hung_up.set()
            raise
        return response

    async def _checksum(self, request: web.Request) -> web.Response:
        self.requests.append(Request("/checksum", dict(request.headers), 200))
        return web.Response(body=self.checksum)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/liste.xml", self._list)
        app.router.add_get("/checksum", self._checksum)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self.tls).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def present(self, tls: ssl.SSLContext) -> None:
        """Restart on the same port with another certificate."""
        await self.stop()
        self.tls = tls
        await self.start()


@dataclass
class Pkis:
    """The pinned CA with the list server's certificate, one for another name, and a foreign CA."""

    pinned: LocalPki
    server: Issued
    wrong_name: Issued
    foreign: Issued


@pytest.fixture(scope="module")
def pkis(tmp_path_factory: pytest.TempPathFactory) -> Pkis:
    folder = tmp_path_factory.mktemp("trust-source-pki")
    pinned = LocalPki(folder / "pinned", "TEST")
    foreign = LocalPki(folder / "foreign", "FOREIGN")
    return Pkis(
        pinned,
        pinned.issue("list-server", SERVER_DN),
        pinned.issue("elsewhere", SERVER_DN.replace("CN=localhost", "CN=elsewhere.example")),
        foreign.issue("list-server", SERVER_DN),
    )


@pytest.fixture
async def server(pkis: Pkis) -> AsyncIterator[ListServer]:
    served = ListServer(serving(pkis.server))
    served.publish(FIRST)
    await served.start()
    try:
        yield served
    finally:
        await served.stop()


def source(
    server: ListServer, pkis: Pkis, *, checksum: bool = False, max_bytes: int = 1_000_000
) -> SourceConfig:
    return SourceConfig(
        location=server.url,
        checksum=server.checksum_url if checksum else "",
        ca_file=pkis.pinned.ca_bundle_path,
        max_bytes=max_bytes,
        timeout=10.0,
    )


@asynccontextmanager
async def synced(nats_server: RunningNats, config: SourceConfig) -> AsyncIterator[TrustSync]:
    """One replica's list sync, started (list loaded and published), refreshed only when asked."""
    client = await nats_server.connect()
    sync = TrustSync(TrustHolder(), config, refresh=0, connection=lambda: client)
    try:
        await sync.start()
        yield sync
    finally:
        await sync.stop()
        await client.close()


async def revision(sync: TrustSync) -> int:
    current = await sync.store.current()
    assert current is not None
    return current.revision


def rejected() -> float:
    return REGISTRY.get_sample_value("mss_policy_trust_list_rejected_total", {"origin": "source"}) or 0.0


async def test_the_list_loads_over_https_trusting_the_pinned_ca(
    nats_server: RunningNats, server: ListServer, pkis: Pkis
) -> None:
    async with synced(nats_server, source(server, pkis)) as sync:
        assert sync.holder().allows("b.mssante.fr")
        assert sync.holder.version.startswith("2026-01-02T03:04:05Z/")
        current = await sync.store.current()
        assert current is not None
        assert current.data == FIRST
        state = await sync.store.source_state()
    assert state is not None
    assert (state.location, state.etag, state.last_modified) == (
        server.url,
        server.etag,
        server.last_modified,
    )
    assert [(r.status, "If-None-Match" in r.headers) for r in server.of("/liste.xml")] == [(200, False)]


@pytest.mark.parametrize("impostor", ["foreign-ca", "wrong-host-name"])
async def test_a_server_not_certified_by_the_pinned_ca_is_refused_and_the_last_good_list_kept(
    nats_server: RunningNats, server: ListServer, pkis: Pkis, impostor: str
) -> None:
    async with synced(nats_server, source(server, pkis)) as sync:
        good, kept_revision = sync.holder(), await revision(sync)
        server.publish(SECOND)
        await server.present(serving(pkis.foreign if impostor == "foreign-ca" else pkis.wrong_name))
        asked = len(server.requests)
        with pytest.raises(UnavailableError, match="CERTIFICATE_VERIFY_FAILED") as refused:
            await sync.source.load()
        reason = "Hostname mismatch" if impostor == "wrong-host-name" else "unable to get local issuer"
        assert reason in str(refused.value)
        before = rejected()
        assert await sync.refresh_once() == "refused"
        assert rejected() == before + 1
        assert sync.holder() is good
        assert await revision(sync) == kept_revision
    assert len(server.requests) == asked  # no request went past the TLS handshake


async def test_a_checksum_mismatch_is_refused_and_the_last_good_list_kept(
    nats_server: RunningNats, server: ListServer, pkis: Pkis
) -> None:
    async with synced(nats_server, source(server, pkis, checksum=True)) as sync:
        good, kept_revision = sync.holder(), await revision(sync)
        server.publish(SECOND, checksum_too=False)  # the checksum still names the first list
        with pytest.raises(DataError, match="checksum mismatch"):
            await sync.source.load()
        assert await sync.refresh_once() == "refused"
        assert sync.holder() is good
        assert await revision(sync) == kept_revision
        server.publish(SECOND)  # the checksum caught up: the new list goes through
        assert await sync.refresh_once() == "published"
        assert sync.holder().allows("c.mssante.fr")
        assert await revision(sync) > kept_revision


async def test_a_source_failing_its_checksum_at_start_up_publishes_nothing(
    nats_server: RunningNats, server: ListServer, pkis: Pkis
) -> None:
    server.checksum = b"0" * 64 + b"  listeblanchemssante.xml\n"
    with pytest.raises(ConfigError, match="checksum mismatch"):
        async with synced(nats_server, source(server, pkis, checksum=True)):
            pass
    client = await nats_server.connect()
    try:
        kv = await client.jetstream().key_value("mss-trust-list")
        with pytest.raises(KeyNotFoundError):
            await kv.get("current")
    finally:
        await client.close()


async def test_refreshes_are_conditional_and_a_304_keeps_the_list_without_reading_it_again(
    nats_server: RunningNats, server: ListServer, pkis: Pkis
) -> None:
    async with synced(nats_server, source(server, pkis, checksum=True)) as sync:
        good, kept_revision = sync.holder(), await revision(sync)
        first_etag, first_date = server.etag, server.last_modified
        assert await sync.refresh_once() == "not-modified"
        conditional = server.of("/liste.xml")[-1]
        assert conditional.headers.get("If-None-Match") == first_etag
        assert conditional.headers.get("If-Modified-Since") == first_date
        assert conditional.status == 304
        assert len(server.of("/checksum")) == 1  # only at start-up: a 304 has nothing to verify
        assert sync.holder() is good
        assert await revision(sync) == kept_revision

        server.publish(SECOND)
        assert await sync.refresh_once() == "published"
        changed = server.of("/liste.xml")[-1]
        assert (changed.headers.get("If-None-Match"), changed.status) == (first_etag, 200)
        assert sync.holder().allows("c.mssante.fr")
        state = await sync.store.source_state()
        assert state is not None
        assert state.etag == server.etag  # the next GET asks about the new copy
        assert await sync.refresh_once() == "not-modified"
        assert server.of("/liste.xml")[-1].headers.get("If-None-Match") == server.etag


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("announced", f"announces {ENDLESS} bytes, over the 100000-byte limit"), ("endless", "sent more than")],
    ids=["announced", "endless"],
)
async def test_a_body_over_the_size_limit_is_refused_without_being_read_whole(
    nats_server: RunningNats, server: ListServer, pkis: Pkis, mode: str, reason: str
) -> None:
    async with synced(nats_server, source(server, pkis, max_bytes=100_000)) as sync:
        good, kept_revision = sync.holder(), await revision(sync)
        server.mode = mode
        with pytest.raises(DataError, match=reason):
            await sync.source.load()
        await asyncio.wait_for(server.hung_up.wait(), 10)
        assert server.sent < ENDLESS // 4, f"{server.sent} bytes were sent before the client hung up"
        assert await sync.refresh_once() == "refused"
        assert sync.holder() is good
        assert await revision(sync) == kept_revision


def test_an_https_source_needs_a_pinned_ca(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MSS_POLICY_TRUST_LIST_CA_FILE"):
        SourceConfig(location="https://localhost/liste.xml").check()
    with pytest.raises(ConfigError, match="only https://"):
        SourceConfig(location="http://localhost/liste.xml", ca_file=tmp_path / "ca.pem").check()
