"""Each NATS identity can do what the subject catalogue grants it and nothing else, against a real
nats-server configured from that catalogue; anonymous, plain-text and unknown clients are refused.

The expected outcome of every action is read from the catalogue itself (who asks and answers each
request in ``subjects.REQUESTS``, who writes, reads, consumes and removes in ``streams``), not from
the permissions generated from it: a generation that grants too much or too little fails here.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import nats.errors
import pytest
from mss.bus import identities as who
from mss.bus import streams, subjects
from mss.bus.connection import client_options, settled
from mss.bus.credentials import new_seed, write_seed
from mss.testing.fixtures import RunningNats, start_test_nats
from nats.aio.client import Client as NATS

API = "$JS.API"
EVERYONE = frozenset(who.ALL)
NOBODY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Action:
    """One publish or subscription, and the identities the catalogue lets do it."""

    kind: str  # "pub" or "sub"
    subject: str
    allowed: frozenset[str]
    queue: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}" + (f" (queue {self.queue})" if self.queue else "")


def sample(pattern: str) -> str:
    """A concrete subject matching ``pattern``."""
    return pattern.replace(">", "x1.x2").replace("*", "x1")


def pub(subject: str, allowed: frozenset[str] | set[str] | tuple[str, ...]) -> Action:
    return Action("pub", subject, frozenset(allowed))


def request_actions() -> list[Action]:
    actions = []
    for request in subjects.REQUESTS:
        listened = request.subject
        if request.caller_in_subject:  # each asker on its own subject, nobody in another's name
            listened = subjects.as_caller(request.subject, "*")
            actions.append(pub(request.subject, NOBODY))
            for caller in who.ALL:
                allowed = {caller} if caller in request.asked_by else set()
                actions.append(pub(subjects.as_caller(request.subject, caller), allowed))
        else:
            actions.append(pub(request.subject, request.asked_by))
        actions.append(Action("sub", listened, NOBODY))  # only in a queue group...
        for identity in who.ALL:  # ...and only in the answering identity's own
            allowed = {identity} if identity == request.answered_by else set()
            actions.append(Action("sub", listened, frozenset(allowed), queue=identity))
    return actions


def stream_actions(spec: streams.StreamSpec) -> list[Action]:
    name = spec.name
    consumers = [c for c in streams.CONSUMERS if c.stream is spec]
    writers = {identity for w in spec.writes for identity in w.by}
    involved = {
        spec.owner,
        who.OPS,
        *writers,
        *spec.read_by,
        *spec.removed_by,
        *(c.reader for c in consumers),
    }
    removers = NOBODY if spec.deny_delete else frozenset({*spec.removed_by, who.OPS})
    actions = [pub(sample(w.subject), w.by) for w in spec.writes]
    actions += [Action("sub", sample(pattern), NOBODY) for pattern in spec.subjects]  # nobody listens
    actions += [
        pub(f"{API}.STREAM.INFO.{name}", involved),
        pub(f"{API}.STREAM.CREATE.{name}", {spec.owner}),
        pub(f"{API}.STREAM.UPDATE.{name}", {spec.owner}),
        pub(f"{API}.DIRECT.GET.{name}", spec.read_by),
        pub(f"{API}.DIRECT.GET.{name}.{sample(spec.subjects[0])}", spec.read_by),
        pub(f"{API}.STREAM.MSG.GET.{name}", spec.read_by),
        pub(f"{API}.STREAM.MSG.DELETE.{name}", removers),
        pub(f"{API}.STREAM.PURGE.{name}", removers),
        pub(f"{API}.STREAM.DELETE.{name}", NOBODY if spec.deny_delete else {who.OPS}),
        pub(f"{API}.CONSUMER.CREATE.{name}", NOBODY),  # no ephemeral consumers on streams
        pub(f"{API}.CONSUMER.CREATE.{name}.intruder.{sample(spec.subjects[0])}", NOBODY),
    ]
    for consumer in consumers:
        stream, durable = name, consumer.durable
        actions += [
            pub(f"{API}.CONSUMER.CREATE.{stream}.{durable}.{consumer.filter_subject}", {consumer.reader}),
            pub(f"{API}.CONSUMER.CREATE.{stream}.{durable}.mss.v1.elsewhere", NOBODY),
            pub(f"{API}.CONSUMER.DURABLE.CREATE.{stream}.{durable}", NOBODY),  # filter unchecked
            pub(f"{API}.CONSUMER.INFO.{stream}.{durable}", {consumer.reader, who.OPS}),
            pub(f"{API}.CONSUMER.MSG.NEXT.{stream}.{durable}", {consumer.reader}),
            pub(f"$JS.ACK.{stream}.{durable}.1.1.1.1.0", {consumer.reader}),
            pub(f"{API}.CONSUMER.DELETE.{stream}.{durable}", NOBODY if spec.deny_delete else {who.OPS}),
        ]
    return actions


def bucket_actions(spec: streams.BucketSpec) -> list[Action]:
    writers = {key: {spec.owner, *by} for key, by in spec.written_by}
    readers = {spec.owner, *spec.read_by, *(i for by in writers.values() for i in by)}
    actions = [
        pub(
            subjects.kv(spec.name, subjects.TRUST_LIST_KEY),
            writers.get(subjects.TRUST_LIST_KEY, {spec.owner}),
        ),
        pub(
            subjects.kv(spec.name, subjects.TRUST_SOURCE_KEY),
            writers.get(subjects.TRUST_SOURCE_KEY, {spec.owner}),
        ),
        pub(f"{API}.STREAM.CREATE.{spec.stream}", {spec.owner}),
        pub(f"{API}.STREAM.INFO.{spec.stream}", readers),
        pub(f"{API}.DIRECT.GET.{spec.stream}.{subjects.kv(spec.name, subjects.TRUST_LIST_KEY)}", readers),
        pub(f"{API}.STREAM.PURGE.{spec.stream}", NOBODY),
        pub(f"{API}.STREAM.DELETE.{spec.stream}", NOBODY),
        pub(f"{API}.CONSUMER.CREATE.{spec.stream}", {spec.owner}),  # policy watches its bucket
    ]
    return actions


def other_actions() -> list[Action]:
    actions = [
        Action("sub", ">", NOBODY),
        Action("sub", "_INBOX.>", NOBODY),
        pub("mss.v1.nobody.declared", NOBODY),
        pub(f"{API}.STREAM.CREATE.INTRUDER", NOBODY),
        pub(f"{API}.STREAM.LIST", NOBODY),
        pub(f"{API}.ACCOUNT.PURGE.MSS", NOBODY),
        pub("$SYS.REQ.SERVER.PING", NOBODY),
    ]
    for identity in who.ALL:
        actions.append(Action("sub", f"{who.inbox_prefix(identity)}.x1", frozenset({identity})))
        actions.append(pub(f"{who.inbox_prefix(identity)}.x1", {identity}))  # to itself; no forged replies
    return actions


ACTIONS = (
    request_actions()
    + [a for spec in streams.ALL for a in stream_actions(spec)]
    + [a for spec in streams.BUCKETS for a in bucket_actions(spec)]
    + other_actions()
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNats]:
    """A server of its own: the refusals this module provokes stay out of other tests' logs."""
    running = start_test_nats(tmp_path_factory.mktemp("nats-permissions"))
    try:
        yield running
    finally:
        running.stop()


MARKER = "mss.v1.probe.marker"
"""A subject no identity may publish to: its refusal closes each probe."""


class Probe:
    """A client of one identity that tells whether the server refused each action.

    The server answers a refused action with an error on the connection, in order; after each
    action the probe publishes to a subject every identity is refused and waits for that refusal:
    the action's own refusal, if any, came before it.
    """

    def __init__(self) -> None:
        self.refusals: list[str] = []
        self.arrived = asyncio.Condition()
        self.client: NATS | None = None

    async def on_error(self, error: Exception) -> None:
        async with self.arrived:
            self.refusals.append(str(error))
            self.arrived.notify_all()

    async def refused(self, action: Action) -> bool:
        """Do ``action`` and tell whether the server refused it."""
        assert self.client is not None
        start = len(self.refusals)
        if action.kind == "pub":
            await self.client.publish(
                action.subject, b"", reply=f"{self.client._inbox_prefix.decode()}.probe"
            )
        else:
            subscription = await self.client.subscribe(action.subject, queue=action.queue)
        await self.client.publish(MARKER, b"")
        marker = f'"{MARKER}"'
        async with self.arrived:
            await asyncio.wait_for(
                self.arrived.wait_for(lambda: any(marker in r for r in self.refusals[start:])), 5
            )
        refused = any(
            f'"{action.subject.lower()}"' in r.lower() for r in self.refusals[start:] if marker not in r
        )
        if action.kind == "sub" and not refused:
            await subscription.unsubscribe()
        return refused

    @classmethod
    async def connect(cls, server: RunningNats, identity: str) -> Probe:
        """A probe connected as ``identity``."""
        probe = cls()
        probe.client = await server.connect(identity, error_cb=probe.on_error)
        return probe


@pytest.mark.parametrize("identity", who.ALL)
async def test_each_identity_can_do_exactly_what_the_catalogue_grants(
    server: RunningNats, identity: str
) -> None:
    probe = await Probe.connect(server, identity)
    wrong: list[str] = []
    try:
        for action in ACTIONS:
            expected = identity in action.allowed
            if await probe.refused(action) == expected:
                wrong.append(f"{action}: {'refused' if expected else 'allowed'}")
    finally:
        await probe.client.close()  # type: ignore[union-attr]
    assert not wrong, f"{identity}:\n" + "\n".join(wrong)


async def test_a_responder_answers_its_requests_and_forges_no_other_reply(server: RunningNats) -> None:
    ingress = await server.connect(who.INGRESS)
    probe = await Probe.connect(server, who.POLICY)
    policy = probe.client
    assert policy is not None
    try:

        async def answer(msg: nats.aio.msg.Msg) -> None:
            await msg.respond(b"ok")

        await policy.subscribe(subjects.RCPT_CHECK, queue=who.POLICY, cb=answer)
        await settled(policy)
        reply = await ingress.request(subjects.RCPT_CHECK, b"", timeout=5)
        assert reply.data == b"ok"
        assert await probe.refused(pub(f"{who.inbox_prefix(who.INGRESS)}.forged", NOBODY))
    finally:
        await asyncio.gather(ingress.close(), policy.close())


async def refused_connection(connect: Callable[[], Awaitable[NATS]]) -> str:
    """The error with which the server (or the TLS check) refuses a client (it must be refused)."""
    try:
        client = await asyncio.wait_for(connect(), 10)
    except Exception as exc:  # nats-py raises several types for a refused connection
        return f"{type(exc).__name__}: {exc}"
    await client.close()
    raise AssertionError("the connection was accepted")


async def quiet(_: Exception) -> None:
    return None


ONCE = {"allow_reconnect": False, "max_reconnect_attempts": 0, "connect_timeout": 3, "error_cb": quiet}


async def test_anonymous_plain_text_unknown_and_unverified_clients_are_refused(
    server: RunningNats, tmp_path: Path
) -> None:
    settings = server.settings(who.INGRESS)
    ca = Path(settings["nats_ca_file"])
    tls = client_options(who.INGRESS, None, ca)
    anonymous = await refused_connection(lambda: nats.connect(server.url, **tls, **ONCE))
    assert "authorization violation" in anonymous.lower()
    seed = Path(settings["nats_credentials_file"])
    host, port = server.config.host, server.config.port
    reader, writer = await asyncio.open_connection(host, port)  # a client that never starts TLS
    try:
        info = json.loads((await reader.readline()).decode().removeprefix("INFO "))
        assert info["tls_required"] is True
        writer.write(b'CONNECT {"verbose":false}\r\nPING\r\n')
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(1000), 10)
    finally:
        writer.close()
    assert b"PONG" not in answer
    stranger = tmp_path / "stranger.nk"
    write_seed(stranger, new_seed())
    unknown = await refused_connection(
        lambda: nats.connect(server.url, **client_options(who.INGRESS, stranger, ca), **ONCE)
    )
    assert "authorization violation" in unknown.lower()
    other_ca = ssl.create_default_context()  # the system's roots do not know the internal CA
    unverified = await refused_connection(
        lambda: nats.connect(server.url, nkeys_seed=str(seed), tls=other_ca, **ONCE)
    )
    assert "certificate" in unverified.lower(), unverified
