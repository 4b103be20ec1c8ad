"""Resolving addresses and completing names over NATS: our registry, the national mirror, then the
allowed-domain list held by policy, each answer saying why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import nats
import pytest
from mss.bus import streams, subjects
from mss.bus.codec import decode, encode
from mss.directory.app import build as build_directory
from mss.directory.correspondents import correspondents, record
from mss.directory.national.extraction import HEADER
from mss.directory.national.importer import import_extraction
from mss.directory.seed import apply_seed, load_seed
from mss.directory.settings import DirectorySettings
from mss.policy.app import build as build_policy
from mss.policy.settings import PolicySettings
from mss.testing.fixtures import DEMO, RunningNats
from mss.testing.inprocess import running
from mss.v1 import (
    AuditCode,
    AuditEvent,
    MailboxStatus,
    MailboxType,
    ResolveReply,
    ResolveRequest,
    RouteKind,
    SearchReply,
    SearchRequest,
    TrustReason,
)

pytestmark = pytest.mark.integration

ROWS = [
    "PER|dr.bernard@autre-operateur.mssante.fr|8|10000000123|810000000123|1|750000009|Cardiologie|DR"
    "|BERNARD|Élodie|C|Civil|10|Médecin|SM04|Cardiologie||CHU DE LYON||||3||QUAI|DES CÉLESTINS||69002 LYON"
    "|69002|69|FRANCE",
    "ORG|urgences@autre-operateur.mssante.fr||||1|750000009|Urgences|||||||||||CHU DE LYON||||3||QUAI"
    "|DES CÉLESTINS||69002 LYON|69002|69|FRANCE",
]


@pytest.fixture
async def directory(nats_server: RunningNats, database_url: str, tmp_path: Path) -> AsyncIterator[nats.NATS]:
    """Directory and policy running, the demo registry and a two-row national extraction in force."""
    conn = await asyncpg.connect(database_url)
    try:
        await apply_seed(conn, load_seed(DEMO / "seed.yaml"))
    finally:
        await conn.close()
    extraction = tmp_path / "Extraction_Correspondance_MSSante_202611280400.txt"
    extraction.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        report = await import_extraction(pool, extraction)
    finally:
        await pool.close()
    assert report.imported == len(ROWS)
    bus = await nats_server.connect()
    for spec in streams.ALL:
        await streams.ensure_stream(bus.jetstream(), spec)
    settings = DirectorySettings(**nats_server.settings("directory"), http_port=0, database_url=database_url)
    policy = PolicySettings(
        **nats_server.settings("policy"), http_port=0, trust_list_path=DEMO / "listeblanchemssante.xml"
    )
    try:
        async with running(build_directory(settings)), running(build_policy(policy)):
            yield bus
    finally:
        await bus.close()


async def resolve(bus: nats.NATS, address: str) -> ResolveReply:
    reply = await bus.request(subjects.RESOLVE, encode(ResolveRequest(address=address)), timeout=5)
    return decode(ResolveReply, reply.data)


@pytest.mark.parametrize(
    ("address", "inside", "reason"),
    [
        ("Jean.Martin@chu-demo.mssante.fr", True, TrustReason.TRUST_REASON_OUR_MAILBOX),
        (
            "dpi@chu-demo.mssante.fr",
            False,
            TrustReason.TRUST_REASON_OUR_MAILBOX,
        ),  # applicative: never receives
        ("nobody@chu-demo.mssante.fr", False, TrustReason.TRUST_REASON_UNKNOWN_MAILBOX),
        ("dr.bernard@autre-operateur.mssante.fr", True, TrustReason.TRUST_REASON_NATIONAL_DIRECTORY),
        ("unlisted.person@autre-operateur.mssante.fr", True, TrustReason.TRUST_REASON_ALLOWED_DOMAIN_ONLY),
        ("someone@gmail.com", False, TrustReason.TRUST_REASON_OUTSIDE),
        ("not an address", False, TrustReason.TRUST_REASON_OUTSIDE),
    ],
)
async def test_every_address_gets_a_verdict_and_its_reason(
    directory: nats.NATS, address: str, inside: bool, reason: int
) -> None:
    reply = await resolve(directory, address)
    assert (reply.entry.in_trust_space, reply.entry.reason) == (inside, reason)
    assert reply.directory_version not in ("", "-1")
    if reason == TrustReason.TRUST_REASON_NATIONAL_DIRECTORY:
        entry = reply.entry
        assert (entry.display_name, entry.rpps, entry.profession, entry.city) == (
            "DR Élodie BERNARD",
            "10000000123",
            "Médecin",
            "LYON",
        )
        assert reply.national_version
    if (
        reason in (TrustReason.TRUST_REASON_ALLOWED_DOMAIN_ONLY, TrustReason.TRUST_REASON_OUTSIDE)
        and "@" in address
    ):
        assert reply.trust_list_version.startswith("2026-11-01T00:00:00Z/")
    if address.startswith("Jean"):
        assert (reply.entry.mailbox_type, reply.entry.status, reply.entry.tenant_id, reply.entry.rpps) == (
            MailboxType.MAILBOX_TYPE_PER,
            MailboxStatus.MAILBOX_STATUS_ACTIVE,
            "chu-demo",
            "10001234567",
        )


async def search(bus: nats.NATS, query: str, limit: int = 10) -> list[str]:
    reply = await bus.request(subjects.SEARCH, encode(SearchRequest(query=query, limit=limit)), timeout=5)
    return [entry.address for entry in decode(SearchReply, reply.data).entries]


async def test_completion_finds_our_mailboxes_first_then_the_national_mirror(directory: nats.NATS) -> None:
    assert await search(directory, "mart") == ["jean.martin@chu-demo.mssante.fr"]
    assert await search(directory, "cardio") == ["cardiologie@chu-demo.mssante.fr"]  # display name word
    assert await search(directory, "bern") == ["dr.bernard@autre-operateur.mssante.fr"]
    assert await search(directory, "elodie") == ["dr.bernard@autre-operateur.mssante.fr"]  # without accent
    assert await search(directory, "10000000123") == ["dr.bernard@autre-operateur.mssante.fr"]
    assert "dpi@chu-demo.mssante.fr" not in await search(directory, "dpi")  # applicative: not a recipient
    assert await search(directory, "m") == []  # one letter: too broad
    assert len(await search(directory, "dr", limit=1)) == 1


async def test_a_correspondent_in_the_national_mirror_is_equipped(
    directory: nats.NATS, database_url: str
) -> None:
    events = []
    for recipient in ("dr.bernard@autre-operateur.mssante.fr", "ghost@autre-operateur.mssante.fr"):
        event = AuditEvent(
            code=AuditCode.AUDIT_CODE_MESSAGE_ROUTED,
            mail_from="jean.martin@chu-demo.mssante.fr",
            recipient=recipient,
            reason=RouteKind.Name(RouteKind.ROUTE_KIND_PEER),
        )
        event.at.GetCurrentTime()
        events.append(event)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        await record(pool, events, {"chu-demo.mssante.fr": "chu-demo", "ch-exemple.mssante.fr": "ch-exemple"})
        found = {c["address"]: c for c in await correspondents(pool, "chu-demo")}
    finally:
        await pool.close()
    assert (
        found["dr.bernard@autre-operateur.mssante.fr"]["equipped"],
        found["dr.bernard@autre-operateur.mssante.fr"]["known_as"],
    ) == (True, "national directory")
    assert (
        found["ghost@autre-operateur.mssante.fr"]["equipped"],
        found["ghost@autre-operateur.mssante.fr"]["known_as"],
    ) == (False, "unknown")
