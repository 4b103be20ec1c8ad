"""Policy and directory against real NATS and PostgreSQL: verdicts, and a silent directory."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import nats
import pytest
from mss.bus import subjects
from mss.bus.codec import decode, encode
from mss.directory.app import build as build_directory
from mss.directory.seed import apply_seed, load_seed
from mss.directory.settings import DirectorySettings
from mss.policy.app import build as build_policy
from mss.policy.settings import PolicySettings
from mss.testing.fixtures import DEMO, RunningNats
from mss.testing.inprocess import running
from mss.v1 import AuditCode, AuditEvent, RecipientCheckReply, RecipientCheckRequest, RouteKind, Verdict

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
async def seeded(database_url: str) -> str:
    """The database with the demo seed applied."""
    conn = await asyncpg.connect(database_url)
    try:
        await apply_seed(conn, load_seed(DEMO / "seed.yaml"))
    finally:
        await conn.close()
    return database_url


def policy_settings(nats: dict[str, str], **overrides: object) -> PolicySettings:
    return PolicySettings(
        **nats,  # type: ignore[arg-type]
        http_port=0,
        trust_list_path=Path(DEMO / "listeblanchemssante.xml"),
        directory_timeout=0.3,
        **overrides,  # type: ignore[arg-type]
    )


async def check(bus: nats.NATS, recipient: str) -> RecipientCheckReply:
    request = RecipientCheckRequest(message_id="01TEST", mail_from="a@b.fr", recipient=recipient)
    return decode(
        RecipientCheckReply, (await bus.request(subjects.RCPT_CHECK, encode(request), timeout=5)).data
    )


async def test_silent_directory_gives_a_temporary_failure_and_is_audited(
    bus: nats.NATS, nats_server: RunningNats
) -> None:
    audited = await bus.subscribe(subjects.audit("policy"))
    async with running(build_policy(policy_settings(nats_server.settings("policy")))):
        verdict = await check(bus, "jean.martin@chu-demo.mssante.fr")
    assert (verdict.verdict, verdict.smtp_code, verdict.enhanced_code) == (
        Verdict.VERDICT_TEMPFAIL,
        451,
        "4.4.3",
    )
    event = decode(AuditEvent, (await audited.next_msg(timeout=5)).data)
    if event.code == AuditCode.AUDIT_CODE_TRUST_LIST_CHANGED:  # policy's first list, put in force
        event = decode(AuditEvent, (await audited.next_msg(timeout=5)).data)
    assert (event.code, event.recipient, event.rule) == (
        AuditCode.AUDIT_CODE_RCPT_TEMPFAIL,
        "jean.martin@chu-demo.mssante.fr",
        "directory.unavailable",
    )


async def test_a_mailbox_with_a_quota_is_refused_for_now_while_storage_does_not_answer(
    bus: nats.NATS, nats_server: RunningNats, seeded: str
) -> None:
    conn = await asyncpg.connect(seeded)
    try:
        await conn.execute(
            "INSERT INTO mailboxes (address, tenant_id, domain, type, quota_bytes)"
            " VALUES ('quota.nostorage@chu-demo.mssante.fr', 'chu-demo', 'chu-demo.mssante.fr', 'PER', 1000)"
            " ON CONFLICT DO NOTHING"
        )
        await conn.execute("UPDATE directory_meta SET version = version + 1")
    finally:
        await conn.close()
    directory = build_directory(
        DirectorySettings(**nats_server.settings("directory"), http_port=0, database_url=seeded)
    )
    settings = policy_settings(nats_server.settings("policy"), storage_timeout=0.3)
    async with running(directory), running(build_policy(settings)):
        quota = await check(bus, "quota.nostorage@chu-demo.mssante.fr")
        plain = await check(bus, "jean.martin@chu-demo.mssante.fr")  # no quota: storage not asked
    assert (quota.verdict, quota.smtp_code, quota.enhanced_code, quota.rule) == (
        Verdict.VERDICT_TEMPFAIL,
        451,
        "4.3.0",
        "storage.unavailable",
    )
    assert quota.policy_version == settings.version()
    assert plain.verdict == Verdict.VERDICT_ACCEPT


@pytest.mark.parametrize(
    ("recipient", "verdict", "code", "route"),
    [
        ("jean.martin@chu-demo.mssante.fr", Verdict.VERDICT_ACCEPT, 250, RouteKind.ROUTE_KIND_LOCAL),
        ("Claire.Durand@CH-Exemple.mssante.fr", Verdict.VERDICT_ACCEPT, 250, RouteKind.ROUTE_KIND_PROXY),
        ("x@autre-operateur.mssante.fr", Verdict.VERDICT_ACCEPT, 250, RouteKind.ROUTE_KIND_PEER),
        ("nobody@chu-demo.mssante.fr", Verdict.VERDICT_REFUSE, 550, RouteKind.ROUTE_KIND_UNSPECIFIED),
        ("dpi@chu-demo.mssante.fr", Verdict.VERDICT_REFUSE, 550, RouteKind.ROUTE_KIND_UNSPECIFIED),
        ("x@example.com", Verdict.VERDICT_REFUSE, 550, RouteKind.ROUTE_KIND_UNSPECIFIED),
    ],
)
async def test_verdicts_from_the_seeded_directory(
    bus: nats.NATS, nats_server: RunningNats, seeded: str, recipient: str, verdict: int, code: int, route: int
) -> None:
    directory = build_directory(
        DirectorySettings(**nats_server.settings("directory"), http_port=0, database_url=seeded)
    )
    async with running(directory), running(build_policy(policy_settings(nats_server.settings("policy")))):
        reply = await check(bus, recipient)
    assert (reply.verdict, reply.smtp_code, reply.route.kind) == (verdict, code, route)
    assert reply.directory_version not in ("", "0")
    if route == RouteKind.ROUTE_KIND_PROXY:
        assert reply.route.next_hop == "127.0.0.1:2626"
