"""Every JetStream stream and durable consumer of mss, declared once.

A stream is created or updated idempotently at start-up by the service that owns it (``owner``);
other services wait until it exists. Consumers are created by the service that reads them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from mss.bus import identities as who
from mss.bus import subjects
from mss.core.errors import UnavailableError
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)

DAY = 86_400.0


@dataclass(frozen=True)
class Writes:
    """Who may publish to one subject (or pattern) a stream captures."""

    subject: str
    by: tuple[str, ...]


@dataclass(frozen=True)
class StreamSpec:
    """A stream, its owner and its configuration (replicas are set at deployment), and who may write
    to it, read its messages directly and remove them (the NATS permissions come from here)."""

    name: str
    owner: str
    subjects: list[str]
    retention: RetentionPolicy
    writes: tuple[Writes, ...] = ()
    read_by: tuple[str, ...] = ()
    """Identities that read messages by sequence or subject (direct get), besides the owner."""
    removed_by: tuple[str, ...] = ()
    """Identities that remove messages as part of their job (by sequence or by subject), besides
    the operator: ingress a body whose event never got published, egress a cancelled delivery."""
    max_age: float = 0.0
    max_msg_size: int = -1
    duplicate_window: float = 120.0
    allow_direct: bool = False
    allow_msg_schedules: bool = False
    deny_delete: bool = False
    """Neither messages nor the whole content can be removed through the API (deny delete and purge)."""
    description: str = ""

    def config(self, replicas: int = 1) -> StreamConfig:
        """The nats-py configuration of the stream."""
        return StreamConfig(
            name=self.name,
            description=self.description,
            subjects=list(self.subjects),
            retention=self.retention,
            storage=StorageType.FILE,
            discard=(  # the server refuses schedules with "discard new"; no limit is set here anyway
                DiscardPolicy.OLD
                if self.retention == RetentionPolicy.LIMITS or self.allow_msg_schedules
                else DiscardPolicy.NEW
            ),
            max_age=self.max_age,
            max_msg_size=self.max_msg_size,
            duplicate_window=self.duplicate_window,
            allow_direct=self.allow_direct,
            allow_msg_schedules=self.allow_msg_schedules or None,
            deny_delete=self.deny_delete,
            deny_purge=self.deny_delete,
            num_replicas=replicas,
        )


WORK = StreamSpec(
    name="MSS_WORK",
    owner=who.INGRESS,
    subjects=[
        subjects.MESSAGE_RECEIVED,
        f"{subjects.PREFIX}.policy.deliver.>",
        f"{subjects.PREFIX}.egress.>",
    ],
    retention=RetentionPolicy.WORK_QUEUE,
    writes=(
        Writes(subjects.MESSAGE_RECEIVED, (who.INGRESS,)),
        Writes(subjects.DELIVER_LOCAL, (who.POLICY, who.EGRESS)),
        Writes(subjects.DELIVER_REMOTE, (who.POLICY, who.EGRESS)),
        Writes(subjects.REPORT, (who.STORAGE, who.EGRESS)),
        Writes(f"{subjects.RETRY_PREFIX}.>", (who.EGRESS,)),
        Writes(f"{subjects.HELD_PREFIX}.>", (who.EGRESS,)),
    ),
    read_by=(who.EGRESS,),
    removed_by=(who.EGRESS,),
    allow_direct=True,
    allow_msg_schedules=True,
    description="Work items: accepted messages, delivery requests (removed once acknowledged), and retries"
    " scheduled per destination (JetStream message schedules, republished when due)",
)
BLOBS = StreamSpec(
    name="MSS_BLOBS",
    owner=who.INGRESS,
    subjects=[f"{subjects.BLOB_PREFIX}.*"],
    retention=RetentionPolicy.LIMITS,
    writes=(Writes(f"{subjects.BLOB_PREFIX}.*", (who.INGRESS, who.STORAGE, who.EGRESS)),),
    read_by=(who.POLICY, who.STORAGE, who.EGRESS, *who.GATEWAYS),
    removed_by=(who.INGRESS,),
    max_age=7 * DAY,
    max_msg_size=33_554_432,
    allow_direct=True,
    description="Message bodies, one per subject, kept for the maximum message lifetime",
)
AUDIT = StreamSpec(
    name="MSS_AUDIT",
    owner=who.TRACING,
    subjects=[f"{subjects.AUDIT_PREFIX}.>"],
    retention=RetentionPolicy.LIMITS,
    writes=tuple(Writes(subjects.audit(name), (name,)) for name in subjects.AUDITED_BY),
    max_age=30 * DAY,
    description="Audit events of every hop, read by tracing; separate from the work streams",
)

AUDIT_ANCHORS = StreamSpec(
    name="MSS_AUDIT_ANCHORS",
    owner=who.TRACING,
    subjects=[f"{subjects.AUDIT_ANCHOR_PREFIX}.*", f"{subjects.AUDIT_PURGE_PREFIX}.*"],
    retention=RetentionPolicy.LIMITS,
    writes=(
        Writes(f"{subjects.AUDIT_ANCHOR_PREFIX}.*", (who.TRACING,)),
        Writes(f"{subjects.AUDIT_PURGE_PREFIX}.*", (who.TRACING,)),
    ),
    read_by=(who.TRACING,),
    max_age=3653 * DAY,
    deny_delete=True,
    allow_direct=True,
    description="Heads of the audit trail's hash chains, published periodically by tracing, and the starts"
    " retention purges gave them: evidence kept outside PostgreSQL that a chain was not rewritten or cut",
)
QUARANTINE = StreamSpec(
    name="MSS_QUARANTINE",
    owner=who.INGRESS,
    subjects=[f"{subjects.QUARANTINE_PREFIX}.*"],
    retention=RetentionPolicy.LIMITS,
    writes=(Writes(f"{subjects.QUARANTINE_PREFIX}.*", (who.INGRESS,)),),
    read_by=(who.OPS,),  # analysis by an operator
    max_age=30 * DAY,
    max_msg_size=33_554_432,
    description="Messages refused as infected, kept for analysis and never delivered",
)

ALL = (WORK, BLOBS, AUDIT, AUDIT_ANCHORS, QUARANTINE)


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer of a stream."""

    durable: str
    stream: StreamSpec
    filter_subject: str
    reader: str
    """The one identity that creates, reads and acknowledges this consumer."""
    ack_wait: float = 30.0
    """Seconds before an unacknowledged item is offered again (a crashed worker's items come back
    after this long); work consumers tell the server an item is still in progress well before."""
    max_deliver: int = -1
    max_ack_pending: int = 1000
    extra: dict[str, str] = field(default_factory=dict)

    def config(self) -> ConsumerConfig:
        """The nats-py configuration of the consumer."""
        return ConsumerConfig(
            durable_name=self.durable,
            name=self.durable,  # created on $JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>: the server
            # checks the filter against the subject, which is all the reader's permission allows
            filter_subject=self.filter_subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=self.max_deliver,
            max_ack_pending=self.max_ack_pending,
        )


ROUTER = ConsumerSpec("router", WORK, subjects.MESSAGE_RECEIVED, who.POLICY)
STORAGE = ConsumerSpec("storage", WORK, subjects.DELIVER_LOCAL, who.STORAGE)
EGRESS = ConsumerSpec("egress", WORK, subjects.DELIVER_REMOTE, who.EGRESS)
REPORTS = ConsumerSpec("reports", WORK, subjects.REPORT, who.EGRESS)
"""Egress routes delivery status notifications to the original senders."""
TRACING = ConsumerSpec("tracing", AUDIT, f"{subjects.AUDIT_PREFIX}.>", who.TRACING)
CORRESPONDENTS = ConsumerSpec("correspondents", AUDIT, subjects.audit(who.POLICY), who.DIRECTORY)
"""The directory learns who each establishment exchanges with from policy's routing events."""
CONSUMERS = (ROUTER, STORAGE, EGRESS, REPORTS, TRACING, CORRESPONDENTS)


async def ensure_stream(js: JetStreamContext, spec: StreamSpec, replicas: int = 1) -> None:
    """Create the stream, or update it to the declared configuration (idempotent)."""
    config = spec.config(replicas)
    try:
        await js.stream_info(spec.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            log.info("stream created", extra={"stream": spec.name})
            return
        except Exception:  # created concurrently by another replica: update below
            log.debug("stream appeared concurrently", extra={"stream": spec.name})
    await js.update_stream(config)


async def wait_for_streams(
    js: JetStreamContext, specs: tuple[StreamSpec, ...] | list[StreamSpec], timeout: float
) -> None:
    """Wait until streams owned by other services exist, retrying with a growing delay."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.05
    for spec in specs:
        while True:
            try:
                await js.stream_info(spec.name)
                break
            except NotFoundError:
                if loop.time() > deadline:
                    raise UnavailableError(
                        f"stream {spec.name} (owned by {spec.owner}) does not exist"
                    ) from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)


async def ensure_consumer(js: JetStreamContext, spec: ConsumerSpec) -> None:
    """Create or update a durable consumer (idempotent)."""
    await js.add_consumer(spec.stream.name, spec.config())


@dataclass(frozen=True)
class BucketSpec:
    """A JetStream Key-Value bucket, its owner and its configuration (replicas are set at deployment)."""

    name: str
    owner: str
    written_by: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(key, identities) that may put that key, besides the owner."""
    read_by: tuple[str, ...] = ()
    """Identities that read the bucket, besides the owner."""
    history: int = 1
    max_value_size: int = -1
    description: str = ""

    @property
    def stream(self) -> str:
        """Name of the stream that holds the bucket."""
        return f"KV_{self.name}"

    def config(self, replicas: int = 1) -> KeyValueConfig:
        """The nats-py configuration of the bucket."""
        return KeyValueConfig(
            bucket=self.name,
            description=self.description,
            history=self.history,
            max_value_size=self.max_value_size,
            storage=StorageType.FILE,
            replicas=replicas,
            direct=True,
        )


TRUST_BUCKET = BucketSpec(
    name="mss-trust-list",
    owner=who.POLICY,
    written_by=((subjects.TRUST_LIST_KEY, (who.OPS,)),),
    read_by=(who.OPS,),
    history=5,
    max_value_size=33_554_432,
    description="The allowed-domain list in force (raw ANS XML, metadata in headers), watched by policy",
)
BUCKETS = (TRUST_BUCKET,)


async def ensure_bucket(js: JetStreamContext, spec: BucketSpec, replicas: int = 1) -> KeyValue:
    """Return the bucket, creating it with the declared configuration when absent (idempotent)."""
    try:
        return await js.key_value(spec.name)
    except BucketNotFoundError:
        pass
    try:
        bucket = await js.create_key_value(spec.config(replicas))
        log.info("bucket created", extra={"bucket": spec.name})
        return bucket
    except Exception:  # created concurrently by another process
        log.debug("bucket appeared concurrently", extra={"bucket": spec.name})
        return await js.key_value(spec.name)
