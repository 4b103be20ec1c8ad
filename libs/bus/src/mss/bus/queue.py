"""The deferred-delivery queue: retries as JetStream message schedules, one subject per destination
and message (``mss.v1.egress.retry.<destination>.<queue id>``).

A deferred delivery holds no consumer slot while it waits: egress acknowledges the attempt and
stores the retry as a schedule, which the server republishes to the egress work subject when due
(ADR-51, ``Nats-Schedule: @at …``). A dead destination's backlog is therefore only stored
messages, and healthy destinations are never queued behind it. The backlog per destination is read
from the stream's per-subject counts, without reading the messages. Operators retry, hold, release
or cancel by destination or by message (``mss queue``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from mss.bus import streams, subjects
from mss.bus.codec import decode, encode
from mss.v1 import DeliveryRequested
from nats.js import JetStreamContext

SCHEDULE = "Nats-Schedule"
SCHEDULE_TARGET = "Nats-Schedule-Target"


def at(when: datetime) -> str:
    """The schedule of a one-shot publish at ``when`` (RFC 3339, UTC, microseconds)."""
    return f"@at {when.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"


async def schedule(
    js: JetStreamContext,
    destination: str,
    request: DeliveryRequested,
    when: datetime,
    headers: dict[str, str],
) -> None:
    """Store the retry of ``request``'s recipients at ``destination``, due at ``when`` (replaces any
    earlier schedule of the same message and destination: the subject is its identity)."""
    request.not_before.FromDatetime(when.astimezone(UTC))
    await js.publish(
        subjects.retry(destination, request.message_id),
        encode(request),
        headers={**headers, SCHEDULE: at(when), SCHEDULE_TARGET: subjects.DELIVER_REMOTE},
    )


@dataclass(frozen=True)
class Entry:
    """One message's recipients waiting at one destination."""

    destination: str
    message_id: str
    held: bool
    request: DeliveryRequested

    @property
    def subject(self) -> str:
        """Where it is stored."""
        return (subjects.held if self.held else subjects.retry)(self.destination, self.message_id)


def _split(subject: str) -> tuple[str, str, bool]:
    """(destination, queue id, held) of a retry or held subject."""
    prefix, token, message_id = subject.rsplit(".", 2)
    return subjects.destination_of(token), message_id, prefix == subjects.HELD_PREFIX


async def _subjects(js: JetStreamContext, destination: str | None) -> dict[str, int]:
    token = subjects.destination_token(destination) if destination else "*"
    found: dict[str, int] = {}
    for prefix in (subjects.RETRY_PREFIX, subjects.HELD_PREFIX):
        info = await js.stream_info(streams.WORK.name, subjects_filter=f"{prefix}.{token}.*")
        found.update(info.state.subjects or {})
    return found


async def backlog(js: JetStreamContext) -> dict[str, tuple[int, int]]:
    """Messages waiting per destination: (scheduled for retry, held), from subject counts only."""
    counts: dict[str, tuple[int, int]] = {}
    for subject in await _subjects(js, None):
        destination, _, held = _split(subject)
        waiting, put_aside = counts.get(destination, (0, 0))
        counts[destination] = (waiting, put_aside + 1) if held else (waiting + 1, put_aside)
    return dict(sorted(counts.items()))


async def entries(js: JetStreamContext, destination: str | None = None, message_id: str = "") -> list[Entry]:
    """The waiting messages of one destination (or all), optionally only one message."""
    found = []
    for subject in sorted(await _subjects(js, destination)):
        where, queue_id, held = _split(subject)
        if message_id and queue_id != message_id:
            continue
        raw = await js.get_last_msg(streams.WORK.name, subject, direct=True)
        found.append(Entry(where, queue_id, held, decode(DeliveryRequested, raw.data or b"")))
    return found


async def _purge(js: JetStreamContext, subject: str) -> None:
    await js.purge_stream(streams.WORK.name, subject=subject)


async def retry_now(js: JetStreamContext, entry: Entry) -> None:
    """Have the entry attempted at once (a held one is released)."""
    await schedule(js, entry.destination, entry.request, datetime.now(UTC), {})
    if entry.held:
        await _purge(js, entry.subject)


async def hold(js: JetStreamContext, entry: Entry) -> None:
    """Put the entry aside: no attempt until released (stored before the schedule is removed)."""
    if entry.held:
        return
    await js.publish(subjects.held(entry.destination, entry.message_id), encode(entry.request))
    await _purge(js, entry.subject)


async def cancel(js: JetStreamContext, entry: Entry, reason: str) -> None:
    """Bounce the entry's recipients now, with a delivery status notification to the sender."""
    entry.request.cancelled = reason
    await retry_now(js, entry)
