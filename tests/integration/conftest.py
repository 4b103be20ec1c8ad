"""A submission dialogue against directory, policy, storage and ingress running in the test's loop,
with real NATS, PostgreSQL and TLS: the demo GHT, its applicative mailbox dpi@chu-demo as the sender."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosmtplib
import asyncpg
import nats
import pytest
from mss.bus import streams, subjects
from mss.bus.codec import decode, encode
from mss.devstack.pki import Issued, LocalPki
from mss.devstack.ports import free_port
from mss.directory.app import build as build_directory
from mss.directory.seed import apply_seed, load_seed
from mss.directory.settings import DirectorySettings
from mss.ingress.app import build as build_ingress
from mss.ingress.settings import IngressSettings
from mss.policy.app import build as build_policy
from mss.policy.settings import PolicySettings
from mss.storage.app import build as build_storage
from mss.storage.settings import StorageSettings
from mss.testing.audit_site import PATIENT_KEY, Site, export_key, messages, seed
from mss.testing.fixtures import DEMO, RunningNats
from mss.testing.inprocess import running
from mss.testing.smtp import client_tls
from mss.tracing.app import build as build_tracing
from mss.tracing.settings import TracingSettings
from mss.v1 import AuditEvent, MessageReceived

SENDER = "dpi@chu-demo.mssante.fr"
SENDER_DN = "CN=dpi.chu-demo.example,OU=750000001,O=CHU DEMO,ST=Paris (75),C=FR"
OPERATOR_DN = "CN=smtp-1.ght-demo.example,OU=00000000000001,O=GHT DEMO,ST=Paris (75),C=FR"


@dataclass
class Dialogue:
    """Send as dpi@chu-demo over submission; see what ingress published and audited."""

    port: int
    peer_port: int
    ca: LocalPki
    sender: Issued
    received: list[MessageReceived]
    audit: list[AuditEvent]
    database_url: str
    policy_audit: list[AuditEvent]

    async def send(
        self,
        recipients: list[str],
        message: bytes = b"Subject: t\r\n\r\nBonjour.\r\n",
        size: int | None = None,
        mail_from: str = SENDER,
        peer: Issued | None = None,
    ) -> tuple[str, list[str], str]:
        """The replies to MAIL FROM, to each RCPT TO, and to the end of DATA (or DATA itself); over
        submission with dpi@chu-demo's certificate, or on the peer listener with ``peer``'s."""
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1",
            port=self.port if peer is None else self.peer_port,
            start_tls=True,
            tls_context=client_tls(peer or self.sender, self.ca.ca_bundle_path),
        )
        await client.connect()
        try:
            await client.ehlo()
            option = f" SIZE={size}" if size is not None else ""
            reply = await client.execute_command(b"MAIL", f"FROM:<{mail_from}>{option}".encode())
            mail = f"{reply.code} {reply.message}"
            if reply.code != 250:
                return mail, [], ""
            rcpt = []
            for recipient in recipients:
                reply = await client.execute_command(b"RCPT", f"TO:<{recipient}>".encode())
                rcpt.append(f"{reply.code} {reply.message}")
            try:
                reply = await client.data(message)
            except aiosmtplib.SMTPResponseException as exc:  # DATA itself, or the end of DATA, refused
                return mail, rcpt, f"{exc.code} {exc.message}"
            return mail, rcpt, f"{reply.code} {reply.message}"
        finally:
            await client.quit()

    async def set_tenant(self, tenant: str, column: str, value: object) -> None:
        """Change an establishment's rule directly in the registry (and bump its version)."""
        assert column in RULES
        conn = await asyncpg.connect(self.database_url)
        try:
            await conn.execute(f"UPDATE tenants SET {column} = $1 WHERE id = $2", value, tenant)
            await conn.execute("UPDATE directory_meta SET version = version + 1")
        finally:
            await conn.close()


RULES = {
    "mixed_recipients": "refuse_whole",
    "max_message_bytes": None,
    "suspended_reply": "permanent",
    "strict_national": False,
    "rate_per_sender": None,
    "malformed_xdm": "flag",
}
"""Each establishment rule and its default (every dialogue starts from the defaults)."""


async def arrived(items: list[object], count: int) -> None:
    """Wait until ``items`` has ``count`` entries (bounded)."""
    for _ in range(500):
        if len(items) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(items)} of {count} arrived")


@pytest.fixture
def until() -> object:
    """The bounded wait above, for tests."""
    return arrived


@pytest.fixture
async def bus(nats_server: RunningNats) -> AsyncIterator[nats.NATS]:
    """A client on the test's server, holding the streams the services own."""
    client = await nats_server.connect()
    for spec in streams.ALL:
        await streams.ensure_stream(client.jetstream(), spec)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def policy_overrides() -> dict[str, object]:
    """Policy settings a test module changes (override this fixture in the module)."""
    return {}


@pytest.fixture
def directory_overrides() -> dict[str, object]:
    """Directory settings a test module changes (override this fixture in the module)."""
    return {}


@pytest.fixture
def ingress_overrides() -> dict[str, object]:
    """Ingress settings a test module changes (override this fixture in the module)."""
    return {}


@pytest.fixture
async def dialogue(
    nats_server: RunningNats,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    policy_overrides: dict[str, object],
    ingress_overrides: dict[str, object],
    directory_overrides: dict[str, object],
    bus: nats.NATS,
) -> AsyncIterator[Dialogue]:
    conn = await asyncpg.connect(database_url)
    try:
        await apply_seed(conn, load_seed(DEMO / "seed.yaml"))
        assignments = ", ".join(f"{column} = ${n}" for n, column in enumerate(RULES, start=1))
        await conn.execute(
            f"UPDATE tenants SET {assignments} WHERE id IN ('chu-demo', 'ch-exemple')",
            *RULES.values(),
        )
        await conn.execute("UPDATE directory_meta SET version = version + 1")
    finally:
        await conn.close()
    pki = LocalPki(tmp_path_factory.mktemp("pki"))
    server = pki.issue("server", OPERATOR_DN)
    sender = pki.issue("dpi", SENDER_DN)
    received: list[MessageReceived] = []
    audit: list[AuditEvent] = []
    policy_audit: list[AuditEvent] = []

    async def on_received(msg: nats.aio.msg.Msg) -> None:
        received.append(decode(MessageReceived, msg.data))

    async def on_audit(msg: nats.aio.msg.Msg) -> None:
        audit.append(decode(AuditEvent, msg.data))

    await bus.subscribe(subjects.MESSAGE_RECEIVED, cb=on_received)

    async def on_policy_audit(msg: nats.aio.msg.Msg) -> None:
        policy_audit.append(decode(AuditEvent, msg.data))

    await bus.subscribe(subjects.audit("ingress"), cb=on_audit)
    await bus.subscribe(subjects.audit("policy"), cb=on_policy_audit)
    ingress = IngressSettings(
        **nats_server.settings("ingress"),
        http_port=0,
        peer_port=free_port(),
        submission_port=free_port(),
        tls_cert_file=server.chain_path,
        tls_key_file=server.key_path,
        tls_ca_file=pki.ca_bundle_path,
        tls_crl_file=pki.crl_path,
        **ingress_overrides,  # type: ignore[arg-type]
    )
    directory = DirectorySettings(
        **nats_server.settings("directory"),
        http_port=0,
        database_url=database_url,
        registry_refresh=0.1,
        **directory_overrides,  # type: ignore[arg-type]
    )
    policy = PolicySettings(
        **nats_server.settings("policy"),
        http_port=0,
        trust_list_path=DEMO / "listeblanchemssante.xml",
        directory_cache_ttl=0,  # a rule changed by a test applies to the next command
        **policy_overrides,  # type: ignore[arg-type]
    )
    storage = StorageSettings(**nats_server.settings("storage"), http_port=0, database_url=database_url)
    async with (
        running(build_directory(directory)),
        running(build_policy(policy)),
        running(build_storage(storage)),
        running(build_ingress(ingress)),
    ):
        yield Dialogue(
            ingress.submission_port,
            ingress.peer_port,
            pki,
            sender,
            received,
            audit,
            database_url,
            policy_audit,
        )


@pytest.fixture
async def audit_site(nats_server: RunningNats, database_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    """Tracing with an export key over the seeded site (mss.testing.audit_site), its events stored."""
    suffix = secrets.token_hex(4)
    conn = await asyncpg.connect(database_url)
    try:
        names = await seed(conn, suffix)
        key_file = export_key(tmp_path / "export-key.pem")
        port = free_port()
        settings = TracingSettings(
            **nats_server.settings("tracing"),
            database_url=database_url,
            http_port=port,
            linger=0.05,
            password_cost=10,
            export_key_file=key_file,
            patient_hash_key=PATIENT_KEY,  # type: ignore[arg-type]
        )
        one, two = f"01ONE{suffix.upper()}", f"01TWO{suffix.upper()}"
        events = messages(names, one, two, datetime.now(UTC) - timedelta(hours=1))
        async with running(build_tracing(settings)):
            bus = await nats_server.connect()
            try:
                for event in events:
                    await bus.jetstream().publish(subjects.audit(event.service), encode(event))
            finally:
                await bus.close()
            for _ in range(500):
                query = "SELECT count(*) FROM audit_events WHERE message_id = ANY($1)"
                if await conn.fetchval(query, [one, two]) == len(events):
                    break
                await asyncio.sleep(0.02)
            else:
                raise AssertionError("the site's events were not all stored")
            yield Site(
                f"http://127.0.0.1:{port}",
                suffix=suffix,
                one=one,
                two=two,
                key_file=key_file,
                events=events,
                **names,
            )
    finally:
        await conn.close()
