"""The NATS permissions of each identity, drawn from the subject catalogue and nothing else.

Each identity may publish only: the requests the catalogue lets it ask, the stream subjects it
writes, and the JetStream API calls its part needs (create and update the streams it owns, bind to
its own durable consumers, read the streams it reads, remove what its job removes). It may subscribe
only to its own inbox and to the requests it answers, in its own queue group, and may answer only
the requests it received (``allow_responses``); it may publish to its own inbox (to know when the
server has its subscriptions), never to another's. Deleting and purging streams belongs to the operator
identity, and nobody may remove anything from a stream that denies deletes (the audit anchors).
"""

from __future__ import annotations

from dataclasses import dataclass

from mss.bus import identities as who
from mss.bus import streams, subjects
from mss.bus.streams import BucketSpec, ConsumerSpec, StreamSpec

API = "$JS.API"
ACK = "$JS.ACK"
FLOW_CONTROL = "$JS.FC"


@dataclass(frozen=True)
class Permissions:
    """What one identity may publish and subscribe to (everything else is refused by the server)."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    allow_responses: bool

    def as_config(self) -> dict[str, object]:
        """The ``permissions`` block of a user in the server's configuration."""
        config: dict[str, object] = {
            "publish": {"allow": list(self.publish)},
            "subscribe": {"allow": list(self.subscribe)},
        }
        if self.allow_responses:
            config["allow_responses"] = {"max": 1}
        return config


def _stream_reads(name: str) -> list[str]:
    return [f"{API}.DIRECT.GET.{name}", f"{API}.DIRECT.GET.{name}.>", f"{API}.STREAM.MSG.GET.{name}"]


def _stream_rights(identity: str, spec: StreamSpec) -> list[str]:
    """JetStream API and stream subjects one identity may publish for one stream."""
    rights = [w.subject for w in spec.writes if identity in w.by]
    if identity == spec.owner:
        rights += [f"{API}.STREAM.CREATE.{spec.name}", f"{API}.STREAM.UPDATE.{spec.name}"]
    if identity in spec.read_by:
        rights += _stream_reads(spec.name)
    if identity in spec.removed_by and not spec.deny_delete:
        rights += [f"{API}.STREAM.MSG.DELETE.{spec.name}", f"{API}.STREAM.PURGE.{spec.name}"]
    if identity == who.OPS and not spec.deny_delete:
        rights += [
            f"{API}.STREAM.MSG.DELETE.{spec.name}",
            f"{API}.STREAM.PURGE.{spec.name}",
            f"{API}.STREAM.DELETE.{spec.name}",
            f"{API}.CONSUMER.DELETE.{spec.name}.*",
        ]
    if identity == who.OPS:  # operators look at every stream and consumer, and change none of them
        rights += [f"{API}.CONSUMER.INFO.{spec.name}.*", f"{API}.CONSUMER.NAMES.{spec.name}"]
    return rights


def _consumer_rights(identity: str, spec: ConsumerSpec) -> list[str]:
    if identity != spec.reader:
        return []
    stream, durable = spec.stream.name, spec.durable
    return [
        f"{API}.STREAM.INFO.{stream}",
        f"{API}.CONSUMER.CREATE.{stream}.{durable}.{spec.filter_subject}",
        f"{API}.CONSUMER.INFO.{stream}.{durable}",
        f"{API}.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"{ACK}.{stream}.{durable}.>",
    ]


def _bucket_rights(identity: str, spec: BucketSpec) -> list[str]:
    stream = spec.stream
    if identity == spec.owner:  # creates it, writes every key, watches it (ordered consumers)
        return [
            f"{API}.STREAM.INFO.{stream}",
            f"{API}.STREAM.CREATE.{stream}",
            f"{API}.STREAM.UPDATE.{stream}",
            subjects.kv(spec.name, ">"),
            *_stream_reads(stream),
            f"{API}.CONSUMER.CREATE.{stream}",
            f"{API}.CONSUMER.CREATE.{stream}.>",
            f"{API}.CONSUMER.DELETE.{stream}.>",
            f"{FLOW_CONTROL}.{stream}.>",
        ]
    rights = [subjects.kv(spec.name, key) for key, by in spec.written_by if identity in by]
    if rights or identity in spec.read_by:
        rights += [f"{API}.STREAM.INFO.{stream}", *_stream_reads(stream)]
    return rights


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def permissions(identity: str) -> Permissions:
    """The permissions the catalogue gives ``identity``."""
    if identity not in who.ALL:
        raise ValueError(f"unknown NATS identity {identity!r}")
    publish = [
        subjects.as_caller(r.subject, identity) if r.caller_in_subject else r.subject
        for r in subjects.REQUESTS
        if identity in r.asked_by
    ]
    publish.append(f"{who.inbox_prefix(identity)}.>")  # to itself only: see mss.bus.connection.settled
    subscribe = [f"{who.inbox_prefix(identity)}.>"]
    answers = [
        subjects.as_caller(r.subject, "*") if r.caller_in_subject else r.subject
        for r in subjects.REQUESTS
        if r.answered_by == identity
    ]
    subscribe += [f"{subject} {identity}" for subject in answers]  # in its own queue group only
    for spec in streams.ALL:
        rights = _stream_rights(identity, spec)
        if rights or identity in (c.reader for c in streams.CONSUMERS if c.stream is spec):
            rights.insert(0, f"{API}.STREAM.INFO.{spec.name}")  # waits until the stream exists
        publish += rights
    for consumer in streams.CONSUMERS:
        publish += _consumer_rights(identity, consumer)
    for bucket in streams.BUCKETS:
        publish += _bucket_rights(identity, bucket)
    return Permissions(_unique(publish), _unique(subscribe), allow_responses=bool(answers))


def catalogue() -> dict[str, Permissions]:
    """Every identity and its permissions."""
    return {identity: permissions(identity) for identity in who.ALL}
