"""Horizontal scaling: two instances of each worker service (policy, storage, egress, directory,
tracing) share one NATS and one PostgreSQL. Every message is handled exactly once by each pair, both
instances of a pair take part, and the audit chains two tracing instances appended to concurrently
still verify."""

from __future__ import annotations

import asyncio
import io
import re
import urllib.request
from collections import Counter
from collections.abc import Iterator

import asyncpg
import pytest
from mss.bus import streams, subjects
from mss.cli.__main__ import run as mss
from mss.cli.settings import CliSettings
from mss.devstack.stack import Stack
from mss.testing import smtp
from mss.testing.fixtures import connect_as, relayed_ids, running_backbone

pytestmark = pytest.mark.e2e

SENDER = "contact@autre-operateur.mssante.fr"
SAAS = "jean.martin@chu-demo.mssante.fr"
PROXY = "claire.durand@ch-exemple.mssante.fr"
TOTAL = 200
CONNECTIONS = 4
TWICE = ("policy", "storage", "egress", "directory", "tracing")
_DONE = re.compile(r'^mss_work_items_total\{consumer="([a-z]+)",outcome="([a-z]+)"\} ([0-9.]+)$', re.M)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A backbone of its own, with a second instance of each worker service."""
    with running_backbone(tmp_path_factory.mktemp("pairs")) as backbone:
        for name in TWICE:
            backbone.start_replica(name, 2)
        for name in TWICE:
            backbone.wait_ready(f"{name}-2")
        yield backbone


def handled(port: int) -> Counter[tuple[str, str]]:
    """(consumer, outcome) → work items one process handled, from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return Counter({(c, o): int(float(n)) for c, o, n in _DONE.findall(text)})


def pairs(stack: Stack) -> dict[str, tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]]:
    return {name: (handled(stack.layout.http[name]), handled(stack.replicas[f"{name}-2"])) for name in TWICE}


async def send_all(stack: Stack) -> list[str]:
    assert stack.pki is not None
    tls = smtp.client_tls(stack.pki.peer_operator, stack.pki.ca)
    sent: list[str] = []

    async def session(first: int) -> None:
        client = await smtp.connect(stack.layout.peer_smtp, tls)
        try:
            for n in range(first, TOTAL, CONNECTIONS):
                content = f"Subject: pair {n}\r\nMessage-ID: <pair-{n}@autre>\r\n\r\nmessage {n}\r\n".encode()
                refused, reply = await client.sendmail(SENDER, [SAAS, PROXY], content)
                assert refused == {}, refused
                sent.append(reply.rsplit(" ", 1)[1])
        finally:
            await client.quit()

    await asyncio.gather(*(session(first) for first in range(CONNECTIONS)))
    return sent


@pytest.mark.timeout(300)
async def test_each_pair_handles_every_message_exactly_once(stack: Stack) -> None:
    sent = await send_all(stack)
    expected = set(sent)
    assert len(expected) == TOTAL
    client = await connect_as(stack.nats)
    conn = await asyncpg.connect(stack.postgres.url())
    try:
        js = client.jetstream()
        for _ in range(600):  # bounded wait (2 min): until every item of every consumer is acknowledged
            infos = [
                await js.consumer_info(spec.stream.name, spec.durable)
                for spec in (
                    streams.ROUTER,
                    streams.STORAGE,
                    streams.EGRESS,
                    streams.TRACING,
                    streams.CORRESPONDENTS,
                )
            ]
            relayed = relayed_ids(stack.layout.home / "mail" / "smarthost")
            if expected <= set(relayed) and all(i.num_pending == 0 and i.num_ack_pending == 0 for i in infos):
                break
            await asyncio.sleep(0.2)
        audit = await js.stream_info(streams.AUDIT.name, subjects_filter=f"{subjects.AUDIT_PREFIX}.>")
        policy_events = (audit.state.subjects or {}).get(subjects.audit("policy"), 0)
        stored = await conn.fetch(
            "SELECT message_id, count(*) AS n FROM audit_events"
            " WHERE code = 400 AND message_id = ANY($1::text[]) GROUP BY message_id",
            sent,
        )
        routed = await conn.fetchval(
            "SELECT count(*) FROM audit_events WHERE code = 300 AND message_id = ANY($1::text[])", sent
        )
        in_mailbox = await conn.fetchval(
            "SELECT count(*) FROM stored_messages WHERE mailbox = $1 AND message_id = ANY($2::text[])",
            SAAS,
            sent,
        )
        events = await conn.fetchval("SELECT count(*) FROM audit_events")
    finally:
        await conn.close()
        await client.close()

    # Each message once at each end: in the hosted mailbox, at the establishment's server, in the trail.
    assert in_mailbox == TOTAL
    assert {queue_id: count for queue_id, count in relayed.items() if queue_id in expected} == dict.fromkeys(
        expected, 1
    )
    assert {r["message_id"]: r["n"] for r in stored} == dict.fromkeys(expected, 1)
    assert routed == 2 * TOTAL  # one routing event per recipient

    # Each pair shared the work, and together handled each item once: no item was handled twice.
    counts = pairs(stack)
    for service, consumer, total in [
        ("policy", "router", TOTAL),
        ("storage", "storage", TOTAL),
        ("egress", "egress", TOTAL),
        ("tracing", "tracing", audit.state.messages),
        ("directory", "correspondents", policy_events),
    ]:
        first, second = counts[service]
        done = (first[(consumer, "done")], second[(consumer, "done")])
        print(f"{consumer}: {done[0]} + {done[1]} = {sum(done)} of {total}")
        assert sum(done) == total, (consumer, done)
        assert min(done) > 0, f"one {service} instance took no {consumer} item: {done}"
        assert first[(consumer, "failed")] + second[(consumer, "failed")] == 0
    assert events == audit.state.messages  # every audit event stored once

    # Two tracing instances appended to the same chains at once: the chains still hold.
    out = io.StringIO()
    status = await mss(["audit", "verify"], CliSettings(**stack.nats.client_settings("ops")), out)
    assert status == 0, out.getvalue()
