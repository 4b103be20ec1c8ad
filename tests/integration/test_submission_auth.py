"""SMTP AUTH at submission, end to end over real TLS: ingress → directory (PostgreSQL, a real HTTPS
token introspection endpoint) → policy, with the exact SMTP replies and the audit trail."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
import nats
import pytest
from aiohttp import web
from mss.bus import subjects
from mss.bus.codec import decode
from mss.bus.connection import settled
from mss.core.errors import DataError
from mss.core.passwords import Cost
from mss.devstack.pki import Issued, LocalPki
from mss.devstack.ports import free_port
from mss.directory.auth.introspection import basic_authorization
from mss.directory.password import set_password
from mss.directory.seed import apply_seed, load_seed
from mss.testing.fixtures import DEMO
from mss.testing.smtp import client_tls
from mss.v1 import AuditCode, AuditEvent

pytestmark = pytest.mark.integration

JEAN = "jean.martin@chu-demo.mssante.fr"  # PER, RPPS 10001234567, delegate of cardiologie@
CARDIO = "cardiologie@chu-demo.mssante.fr"  # ORG
CLAIRE = "claire.durand@ch-exemple.mssante.fr"  # PER, RPPS 10009876543
IDLE = "en.conge@chu-demo.mssante.fr"  # PER, suspended
PASSWORDS = {JEAN: "jean-password-1234", CARDIO: "cardio-password-1234", IDLE: "idle-password-1234"}
FAST = Cost(log2_n=10)
CLIENT_ID, CLIENT_SECRET = "mss-test", "introspection-secret-1234"


@dataclass
class Introspection:
    """A token introspection endpoint (RFC 7662) over HTTPS, with the tokens it knows."""

    url: str
    ca: Path
    tokens: dict[str, dict[str, object]] = field(default_factory=dict)
    received: list[str] = field(default_factory=list)
    down: bool = False


@pytest.fixture(scope="module")
async def accounts(database_url: str) -> str:
    """The demo directory plus passwords and a suspended mailbox."""
    conn = await asyncpg.connect(database_url)
    try:
        await apply_seed(conn, load_seed(DEMO / "seed.yaml"))
        await conn.execute(
            "INSERT INTO mailboxes (address, tenant_id, domain, type, status)"
            " VALUES ($1, 'chu-demo', 'chu-demo.mssante.fr', 'PER', 'suspended') ON CONFLICT DO NOTHING",
            IDLE,
        )
        for address, password in PASSWORDS.items():
            await set_password(conn, address, password, FAST)
    finally:
        await conn.close()
    return database_url


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LocalPki:
    return LocalPki(tmp_path_factory.mktemp("pki"), "TEST")


@pytest.fixture
async def introspection(pki: LocalPki) -> AsyncIterator[Introspection]:
    issued = pki.issue("psc", "CN=localhost,O=PSC TEST,C=FR")
    state = Introspection(url="", ca=pki.ca_bundle_path)

    async def introspect(request: web.Request) -> web.Response:
        if state.down:
            return web.Response(status=503)
        if request.headers.get("Authorization") != basic_authorization(CLIENT_ID, CLIENT_SECRET):
            return web.Response(status=401)
        token = str((await request.post())["token"])
        state.received.append(token)
        return web.json_response(state.tokens.get(token, {"active": False}))

    app = web.Application()
    app.router.add_post("/introspect", introspect)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(issued.chain_path, issued.key_path)
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    state.url = f"https://localhost:{port}/introspect"
    try:
        yield state
    finally:
        await runner.cleanup()


@dataclass
class Submission:
    port: int
    peer_port: int
    ca: Path
    audit: list[AuditEvent]
    raw_audit: list[bytes]
    peer_identity: Issued


@pytest.fixture
def directory_overrides(introspection: Introspection) -> dict[str, object]:
    """Fast hashes, a low failure limit, and the test's token introspection endpoint."""
    return {
        "password_cost": 10,
        "auth_max_failures": 4,
        "introspection_url": introspection.url,
        "introspection_client_id": CLIENT_ID,
        "introspection_client_secret": CLIENT_SECRET,
        "introspection_ca_file": introspection.ca,
        "introspection_scopes": ["scope_all"],
    }


@pytest.fixture
async def submission(accounts: str, dialogue: Any, bus: nats.NATS) -> AsyncIterator[Submission]:
    """The submission dialogue (directory, policy and ingress in this loop) and every audit event."""
    audit: list[AuditEvent] = []
    raw: list[bytes] = []

    async def collect(msg: nats.aio.msg.Msg) -> None:
        raw.append(msg.data)
        audit.append(decode(AuditEvent, msg.data))

    subscription = await bus.subscribe(f"{subjects.AUDIT_PREFIX}.>", cb=collect)
    await settled(bus)
    peer = dialogue.ca.issue("peer", "CN=smtp.autre-operateur.example,O=AUTRE OPERATEUR,C=FR")
    try:
        yield Submission(dialogue.port, dialogue.peer_port, dialogue.ca.ca_bundle_path, audit, raw, peer)
    finally:
        await subscription.unsubscribe()


async def session(sub: Submission, *, tls: bool = True, port: int | None = None) -> aiosmtplib.SMTP:
    client = aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=port or sub.port,
        local_hostname="poste.chu-demo.example",
        start_tls=tls,
        tls_context=client_tls(None, sub.ca) if tls else None,
    )
    await client.connect()
    await client.ehlo()
    return client


def b64(data: str) -> bytes:
    return base64.b64encode(data.encode())


async def command(client: aiosmtplib.SMTP, *words: bytes) -> str:
    reply = await client.execute_command(*words)
    return f"{reply.code} {reply.message}"


async def plain(client: aiosmtplib.SMTP, login: str, password: str) -> str:
    return await command(client, b"AUTH", b"PLAIN", b64(f"\0{login}\0{password}"))


async def mail_from(client: aiosmtplib.SMTP, address: str) -> str:
    return await command(client, b"MAIL", f"FROM:<{address}>".encode())


def xoauth2(user: str, token: str) -> bytes:
    return b64(f"user={user}\x01auth=Bearer {token}\x01\x01")


async def wait_for(events: list[AuditEvent], code: int, count: int = 1) -> list[AuditEvent]:
    """The audit events of ``code``, once ``count`` of them have arrived (bounded wait)."""
    deadline = time.monotonic() + 10
    while True:
        found = [e for e in events if e.code == code]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.02)


async def test_auth_is_offered_only_inside_tls_and_never_to_peers(submission: Submission) -> None:
    plain_session = await session(submission, tls=False)
    try:
        assert "auth" not in plain_session.esmtp_extensions
        assert (await plain(plain_session, JEAN, PASSWORDS[JEAN])).startswith("538 5.7.11")
    finally:
        await plain_session.quit()
    tls_session = await session(submission)
    try:
        assert set(tls_session.esmtp_extensions["auth"].split()) == {"PLAIN", "LOGIN", "XOAUTH2"}
    finally:
        await tls_session.quit()
    peer = aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=submission.peer_port,
        start_tls=True,
        tls_context=client_tls(submission.peer_identity, submission.ca),
    )
    await peer.connect()
    try:
        await peer.ehlo()
        assert "auth" not in peer.esmtp_extensions  # even inside TLS
        assert (await plain(peer, JEAN, PASSWORDS[JEAN])).startswith("504")
    finally:
        await peer.quit()


async def test_a_person_sends_as_their_mailbox_and_delegated_ones_only(submission: Submission) -> None:
    client = await session(submission)
    try:
        assert await mail_from(client, JEAN) == "530 5.7.0 Authentication required"
        assert (await plain(client, JEAN, PASSWORDS[JEAN])).startswith("235 2.7.0")
        assert (await mail_from(client, JEAN)).startswith("250")
        await command(client, b"RSET")
        assert (await mail_from(client, CARDIO.upper())).startswith("250")  # delegated to Jean
        await command(client, b"RSET")
        assert await mail_from(client, CLAIRE) == f"553 5.7.1 Not authorised to send as <{CLAIRE}>"
    finally:
        await client.quit()
    refused = {
        e.mail_from: e for e in await wait_for(submission.audit, AuditCode.AUDIT_CODE_SENDER_REFUSED, 2)
    }
    claimed = refused[""]  # the client proved nothing: Jean's name is only its claim, not Jean's event
    assert claimed.reason.startswith(f"claimed sender <{JEAN}>: Authentication required")
    assert claimed.tenant_id == ""
    assert (claimed.rule, refused[CLAIRE].rule) == (
        "sender.authentication-required",
        "sender.not-authorised",
    )
    assert f"authenticated as {JEAN}" in refused[CLAIRE].reason
    succeeded = await wait_for(submission.audit, AuditCode.AUDIT_CODE_AUTH_SUCCEEDED)
    assert succeeded[0].mail_from == JEAN
    assert succeeded[0].tenant_id == "chu-demo"
    assert CARDIO in succeeded[0].reason


async def test_login_mechanism_and_an_organisational_mailbox_of_its_own(submission: Submission) -> None:
    client = await session(submission)
    try:
        assert (await command(client, b"AUTH", b"LOGIN")).startswith("334")
        assert (await command(client, b64(CARDIO))).startswith("334")
        assert (await command(client, b64(PASSWORDS[CARDIO]))).startswith("235")
        assert (await mail_from(client, CARDIO)).startswith("250")
        await command(client, b"RSET")
        assert (await mail_from(client, JEAN)).startswith("553 5.7.1")  # delegation goes one way
    finally:
        await client.quit()


async def test_wrong_credentials_fail_are_audited_and_the_secret_never_shows(
    submission: Submission, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-password-42"
    client = await session(submission)
    try:
        assert await plain(client, JEAN, wrong) == "535 5.7.8 Authentication credentials invalid"
        assert (await plain(client, IDLE, PASSWORDS[IDLE])).startswith("535")  # suspended
    finally:
        await client.quit()
    client = await session(submission)
    try:
        assert (await plain(client, "dpi@chu-demo.mssante.fr", "whatever-it-is")).startswith("535")
        assert (await mail_from(client, JEAN)).startswith("530")  # still not authenticated
    finally:
        await client.quit()
    failed = await wait_for(submission.audit, AuditCode.AUDIT_CODE_AUTH_FAILED, 3)
    reasons = {e.mail_from: e.reason for e in failed}
    assert "wrong password" in reasons[JEAN]
    assert "suspended" in reasons[IDLE]
    assert "127.0.0.1" in reasons[JEAN]
    for secret in (wrong, PASSWORDS[IDLE]):
        assert all(secret.encode() not in raw for raw in submission.raw_audit)
        assert all(secret not in str(record.__dict__) for record in caplog.records)


async def test_repeated_failures_close_the_session_then_throttle_the_login(submission: Submission) -> None:
    client = await session(submission)
    assert (await plain(client, JEAN, "guess-number-1")).startswith("535")
    assert (await plain(client, JEAN, "guess-number-2")).startswith("535")
    assert (await plain(client, JEAN, "guess-number-3")).startswith("421 4.7.0")
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await client.noop()
    client = await session(submission)
    try:
        assert (await plain(client, JEAN, "guess-number-4")).startswith("535")
        # four failures for this login: even the right password is not checked for a while
        assert (await plain(client, JEAN, PASSWORDS[JEAN])).startswith("454 4.7.0 Too many")
    finally:
        await client.quit()
    throttled = await wait_for(submission.audit, AuditCode.AUDIT_CODE_AUTH_FAILED, 5)
    assert "too many failures for login:" + JEAN in throttled[-1].reason


async def test_a_pro_sante_connect_token_opens_the_mailboxes_of_its_rpps(
    submission: Submission, introspection: Introspection
) -> None:
    now = int(time.time())
    jean = {"SubjectNameID": "810001234567", "azp": CLIENT_ID, "scope": "openid scope_all"}
    introspection.tokens["token-jean"] = {**jean, "active": True, "exp": now + 600}
    introspection.tokens["token-expired"] = {**jean, "active": True, "exp": now - 1}
    client = await session(submission)
    try:
        assert (await command(client, b"AUTH", b"XOAUTH2", xoauth2(CARDIO, "token-jean"))).startswith("235")
        assert (await mail_from(client, CARDIO)).startswith("250")
        await command(client, b"RSET")
        assert (await mail_from(client, JEAN)).startswith("250")
    finally:
        await client.quit()
    assert introspection.received == ["token-jean"]
    for user, token in ((CLAIRE, "token-jean"), (JEAN, "token-expired"), (JEAN, "token-unknown")):
        client = await session(submission)
        try:
            challenge = await command(client, b"AUTH", b"XOAUTH2", xoauth2(user, token))
            assert challenge.startswith("334 ")
            assert json.loads(base64.b64decode(challenge[4:]))["status"] == "401"
            assert await command(client, b"") == "535 5.7.8 Authentication credentials invalid"
        finally:
            await client.quit()
    failed = await wait_for(submission.audit, AuditCode.AUDIT_CODE_AUTH_FAILED, 3)
    reasons = " | ".join(e.reason for e in failed)
    assert f"RPPS 10001234567 may not open {CLAIRE}" in reasons
    assert "expired" in reasons
    assert "not active" in reasons
    assert all(b"token-" not in raw for raw in submission.raw_audit)


async def test_a_token_issued_to_another_application_or_without_the_scope_is_refused(
    submission: Submission, introspection: Introspection
) -> None:
    now = int(time.time())
    jean = {"active": True, "exp": now + 600, "SubjectNameID": "810001234567", "scope": "openid scope_all"}
    introspection.tokens["token-elsewhere"] = {**jean, "azp": "autre-logiciel", "aud": ["account"]}
    introspection.tokens["token-narrow"] = {**jean, "aud": CLIENT_ID, "scope": "openid"}
    introspection.tokens["token-ours"] = {**jean, "client_id": CLIENT_ID}
    for token in ("token-elsewhere", "token-narrow"):
        client = await session(submission)
        try:
            challenge = await command(client, b"AUTH", b"XOAUTH2", xoauth2(JEAN, token))
            assert challenge.startswith("334 ")
            assert await command(client, b"") == "535 5.7.8 Authentication credentials invalid"
        finally:
            await client.quit()
    client = await session(submission)
    try:
        assert (await command(client, b"AUTH", b"XOAUTH2", xoauth2(JEAN, "token-ours"))).startswith("235")
    finally:
        await client.quit()
    failed = await wait_for(submission.audit, AuditCode.AUDIT_CODE_AUTH_FAILED, 2)
    reasons = " | ".join(e.reason for e in failed)
    assert "token issued to account, autre-logiciel, not to an application this service accepts" in reasons
    assert "token does not grant the scope 'scope_all'" in reasons


async def test_an_unreachable_identity_provider_is_a_temporary_failure(
    submission: Submission, introspection: Introspection
) -> None:
    introspection.down = True
    client = await session(submission)
    try:
        reply = await command(client, b"AUTH", b"XOAUTH2", xoauth2(JEAN, "token-any"))
        assert reply == "454 4.7.0 Temporary authentication failure, try again later"
    finally:
        await client.quit()
    failed = await wait_for(submission.audit, AuditCode.AUDIT_CODE_AUTH_FAILED)
    assert "HTTP 503" in failed[0].reason


@pytest.mark.parametrize(
    ("address", "password", "message"),
    [
        ("dpi@chu-demo.mssante.fr", "long-enough-password", "authenticates by certificate"),
        ("nobody@chu-demo.mssante.fr", "long-enough-password", "no mailbox"),
        (JEAN, "short", "at least 12 characters"),
    ],
)
async def test_passwords_are_refused_where_they_make_no_sense(
    accounts: str, address: str, password: str, message: str
) -> None:
    conn = await asyncpg.connect(accounts)
    try:
        with pytest.raises(DataError, match=message):
            await set_password(conn, address, password, FAST)
        stored = await conn.fetchval("SELECT count(*) FROM mailbox_credentials WHERE address = $1", address)
        assert stored == (1 if address == JEAN else 0)  # Jean keeps the password set by the fixture
    finally:
        await conn.close()


async def test_an_unproven_client_cannot_fill_the_trail_under_someones_name(submission: Submission) -> None:
    """Refused MAIL FROM of a client that signed in with nothing are claims, recorded outside any
    establishment's chain, and past ten the address gets 421 and is disconnected; a person who signs
    in from the same address is not held back."""
    client = await session(submission)
    try:
        for _ in range(10):
            assert await mail_from(client, JEAN) == "530 5.7.0 Authentication required"
        reply = await client.execute_command(b"MAIL", f"FROM:<{JEAN}>".encode())
        assert (reply.code, reply.message) == (
            421,
            "4.7.0 Too many refused commands from your address, try again later",
        )
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await client.noop()
    finally:
        client.close()
    again = await session(submission)  # a new connection from the same address
    try:
        assert (await mail_from(again, JEAN)).startswith("421 4.7.0")
    finally:
        again.close()
    person = await session(submission)
    try:
        assert (await plain(person, JEAN, PASSWORDS[JEAN])).startswith("235")
        assert (await mail_from(person, JEAN)).startswith("250")
    finally:
        await person.quit()
    claims = await wait_for(submission.audit, AuditCode.AUDIT_CODE_SENDER_REFUSED, 10)
    assert all(c.reason.startswith(f"claimed sender <{JEAN}>: ") for c in claims)
    assert {(c.mail_from, c.tenant_id) for c in claims} == {("", "")}
    assert len(claims) == 10  # the disconnected attempts reached neither policy nor the trail
