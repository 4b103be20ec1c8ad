"""One list for every policy replica: a new list in the bucket reaches each of them and their verdicts.

Two policy services run in-process against one nats-server. They differ only in how they match a
peer's certificate (full DN or CN), so a MAIL FROM check tells which replica answered: with a
certificate whose CN is the one listed but whose DN is not, the DN replica refuses and the CN
replica accepts, and each reply carries the list version that replica used.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import nats
import pytest
from mss.bus import streams, subjects
from mss.bus.codec import decode, encode
from mss.cli.settings import CliSettings
from mss.cli.trust import import_list
from mss.core.tls import DnMatch
from mss.policy.app import Policy, wire
from mss.policy.domain.trustlist import NAMESPACE, parse_trust_list
from mss.policy.settings import PolicySettings
from mss.testing.fixtures import RunningNats
from mss.testing.inprocess import running
from mss.v1 import AuditCode, AuditEvent, Listener, PeerCertificate, SenderCheckReply, SenderCheckRequest
from prometheus_client import REGISTRY

pytestmark = pytest.mark.integration

LISTED_DN = "CN=smtp-1.nouveau.example,OU=00000000000003,O=NOUVEL OPERATEUR,ST=Paris (75),C=FR"
SAME_CN = PeerCertificate(
    subject_dn="CN=smtp-1.nouveau.example,OU=99999999999999,O=AUTRE,ST=Paris (75),C=FR",
    common_name="smtp-1.nouveau.example",
)


def listing(generated: str, *domains: tuple[str, str]) -> bytes:
    """An ANS list of (domain, operator DN)."""
    entries = "".join(
        f"<Domaine><Nom>{name}</Nom><DNCertificatOperateur>{dn}</DNCertificatOperateur></Domaine>"
        for name, dn in domains
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ListeBlancheMSSante xmlns="{NAMESPACE}">'
        f"<DateDeGeneration>{generated}</DateDeGeneration><ListeDomaines>{entries}</ListeDomaines>"
        "</ListeBlancheMSSante>"
    ).encode()


OLD = listing("2026-01-01T00:00:00Z", ("autre-operateur.mssante.fr", "CN=smtp-1.autre-operateur.example"))
NEW = listing(
    "2026-02-01T00:00:00Z",
    ("autre-operateur.mssante.fr", "CN=smtp-1.autre-operateur.example"),
    ("nouveau.mssante.fr", LISTED_DN),
)
NEWER = listing("2026-03-01T00:00:00Z", ("nouveau.mssante.fr", LISTED_DN))


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    """The list each replica is configured with."""
    path = tmp_path / "listeblanchemssante.xml"
    path.write_bytes(OLD)
    return path


def replica(nats: dict[str, str], list_file: Path, match: DnMatch) -> Policy:
    return wire(
        PolicySettings(**nats, http_port=0, trust_list_path=list_file, trust_list_refresh=0, dn_match=match)
    )


@asynccontextmanager
async def replicas(nats: dict[str, str], list_file: Path, *matches: DnMatch) -> AsyncIterator[list[Policy]]:
    """Policy replicas started one after the other, stopped together."""
    async with AsyncExitStack() as stack:
        started = []
        for match in matches:
            policy = replica(nats, list_file, match)
            await stack.enter_async_context(running(policy.service))
            started.append(policy)
        yield started


async def switched(policies: list[Policy], version: str) -> None:
    """Wait (bounded) until every replica holds ``version``."""
    async with asyncio.timeout(10):
        for policy in policies:
            await policy.trust.wait_for(lambda trust: trust.version == version)


async def verdicts(bus: nats.NATS, count: int = 40) -> set[tuple[int, str]]:
    """(SMTP code, list version) of ``count`` MAIL FROM checks, shared among the replicas by NATS."""
    request = SenderCheckRequest(
        message_id="01TRUSTPROPAGATION",
        mail_from="dr@nouveau.mssante.fr",
        client_address="127.0.0.1",
        listener=Listener.LISTENER_PEER,
        peer_certificate=SAME_CN,
    )
    seen = set()
    for _ in range(count):
        reply = decode(SenderCheckReply, (await bus.request(subjects.SENDER_CHECK, encode(request), 5)).data)
        seen.add((reply.smtp_code, reply.trust_list_version))
    return seen


async def trust_list_changes(bus: nats.NATS, version: str) -> list[AuditEvent]:
    """The TRUST_LIST_CHANGED events the audit stream holds (each stored once), read until one for
    ``version`` is there (bounded: 10 s)."""
    subscription = await bus.jetstream().pull_subscribe(subjects.audit("policy"), stream=streams.AUDIT.name)
    found: list[AuditEvent] = []
    deadline = asyncio.get_running_loop().time() + 10
    try:
        while not any(e.trust_list_version == version for e in found):
            assert asyncio.get_running_loop().time() < deadline, f"no TRUST_LIST_CHANGED for {version}"
            try:
                batch = await subscription.fetch(100, timeout=0.5)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            for message in batch:
                event = decode(AuditEvent, message.data)
                if event.code == AuditCode.AUDIT_CODE_TRUST_LIST_CHANGED:
                    found.append(event)
                await message.ack()
    finally:
        await subscription.unsubscribe()
    return found


async def cli_import(nats_server: RunningNats, path: Path) -> str:
    out = io.StringIO()
    assert await import_list(CliSettings(**nats_server.settings("ops")), path, None, out) == 0
    return out.getvalue()


OLD_VERSION, NEW_VERSION, NEWER_VERSION = (parse_trust_list(data).version for data in (OLD, NEW, NEWER))


async def test_an_imported_list_reaches_every_replica_and_their_verdicts(
    bus: nats.NATS, nats_server: RunningNats, old_file: Path, tmp_path: Path
) -> None:
    async with replicas(nats_server.settings("policy"), old_file, DnMatch.DN, DnMatch.CN) as policies:
        assert [policy.trust.version for policy in policies] == [OLD_VERSION, OLD_VERSION]
        assert await verdicts(bus) == {(550, OLD_VERSION)}  # the domain is not listed yet
        changes: list[list[str]] = [[], []]
        for policy, seen in zip(policies, changes, strict=True):
            policy.trust.listeners.append(lambda old, new, meta, seen=seen: seen.append(new.version))
        new_file = tmp_path / "new.xml"
        new_file.write_bytes(NEW)

        assert f"imported {NEW_VERSION}" in await cli_import(nats_server, new_file)

        await switched(policies, NEW_VERSION)
        assert changes == [[NEW_VERSION], [NEW_VERSION]]
        # the DN replica refuses the unlisted DN, the CN replica accepts it: both with the new list
        assert await verdicts(bus) == {(550, NEW_VERSION), (250, NEW_VERSION)}
        assert all(policy.trust.meta.source.startswith("import:") for policy in policies)
    changed = await trust_list_changes(bus, NEW_VERSION)  # both replicas saw the import: one event
    (event,) = [e for e in changed if e.trust_list_version == NEW_VERSION]
    assert event.reason.startswith(f"list {NEW_VERSION} (")
    assert f"put in force by ops (mss trust import): import:{new_file.resolve()}" in event.reason


async def test_a_replica_started_later_takes_the_list_in_the_bucket_not_its_file(
    bus: nats.NATS, nats_server: RunningNats, old_file: Path, tmp_path: Path
) -> None:
    new_file = tmp_path / "new.xml"
    new_file.write_bytes(NEW)
    async with replicas(nats_server.settings("policy"), old_file, DnMatch.DN) as (first,):
        await cli_import(nats_server, new_file)
        await switched([first], NEW_VERSION)
        async with replicas(nats_server.settings("policy"), old_file, DnMatch.CN) as (later,):
            assert later.trust.version == NEW_VERSION
            assert await verdicts(bus) == {(550, NEW_VERSION), (250, NEW_VERSION)}


@pytest.fixture
def refusals() -> Iterator[list[logging.LogRecord]]:
    """The records of lists in the bucket that a replica refused."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "in the bucket refused" in record.getMessage():
                records.append(record)

    handler, logger = Keep(), logging.getLogger("mss.policy.trust.sync")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def rejected_from_bucket() -> float:
    return REGISTRY.get_sample_value("mss_policy_trust_list_rejected_total", {"origin": "bucket"}) or 0.0


async def test_a_bad_revision_written_to_the_bucket_is_refused_by_every_replica(
    bus: nats.NATS, nats_server: RunningNats, old_file: Path, refusals: list[logging.LogRecord]
) -> None:
    async with replicas(nats_server.settings("policy"), old_file, DnMatch.DN, DnMatch.CN) as policies:
        changes: list[list[str]] = [[], []]
        for policy, seen in zip(policies, changes, strict=True):
            policy.trust.listeners.append(lambda old, new, meta, seen=seen: seen.append(new.version))
        before = rejected_from_bucket()
        js, key = bus.jetstream(), subjects.kv(streams.TRUST_BUCKET.name, subjects.TRUST_LIST_KEY)
        await js.publish(key, NEWER.replace(b"</ListeDomaines>", b""))  # as `nats kv put` would
        await js.publish(key, NEWER)  # then a good one, without metadata headers

        await switched(policies, NEWER_VERSION)  # the watch is ordered: the bad one came first
        assert changes == [[NEWER_VERSION], [NEWER_VERSION]]
        assert len(refusals) == 2
        assert rejected_from_bucket() == before + 2
        assert await verdicts(bus) == {(550, NEWER_VERSION), (250, NEWER_VERSION)}
        assert {policy.trust.meta.source for policy in policies} == {"kv"}
