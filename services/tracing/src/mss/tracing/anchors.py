"""Anchors of the audit trail, kept in MSS_AUDIT_ANCHORS, a JetStream stream apart from PostgreSQL
that refuses deletes and purges, one subject per establishment:

* tracing publishes each chain's head (number and hash of its last event) when it has moved;
* a retention purge publishes the chain's new start (the number and hash of the last event removed)
  before it commits.

Whoever rewrites a chain in the database, hashes and head included, leaves it different from the
heads anchored before; whoever cuts its beginning leaves a start no purge recorded. `mss audit
verify` checks both (mss.tracing.chain)."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
from mss.bus import streams, subjects
from mss.bus.codec import decode, encode, now_timestamp
from mss.v1 import AuditAnchor, AuditChainHead
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

Point = tuple[str, str]
"""(hash, when anchored) of an event number."""


@dataclass
class Anchors:
    """Publishes and reads the anchors."""

    js: JetStreamContext
    timeout: float = 5.0
    published: dict[str, tuple[int, str]] = field(default_factory=dict)
    """What this process last anchored, per establishment (each start anchors every head again)."""

    async def _publish(self, subject: str, tenant_id: str, seq: int, digest: str) -> None:
        anchor = AuditAnchor(heads=[AuditChainHead(tenant_id=tenant_id, seq=seq, hash=digest)])
        anchor.at.CopyFrom(now_timestamp())
        await self.js.publish(subject, encode(anchor), timeout=self.timeout)

    async def publish(self, pool: asyncpg.Pool) -> int:
        """Anchor every head that moved since the last call; return how many were."""
        rows = await pool.fetch("SELECT tenant_id, seq, hash FROM audit_chain WHERE seq > 0")
        moved = 0
        for row in rows:
            head = (row["seq"], row["hash"])
            if self.published.get(row["tenant_id"]) == head:
                continue
            await self._publish(subjects.audit_anchor(row["tenant_id"]), row["tenant_id"], *head)
            self.published[row["tenant_id"]] = head
            moved += 1
        return moved

    async def purged(self, tenant_id: str, seq: int, digest: str) -> None:
        """Record the start a retention purge gives a chain (before the purge commits)."""
        await self._publish(subjects.audit_purge(tenant_id), tenant_id, seq, digest)

    async def last_purge(self, tenant_id: str) -> tuple[int, str] | None:
        """The start the last retention purge recorded for a chain (None: never purged)."""
        try:
            found = await self.js.get_last_msg(streams.AUDIT_ANCHORS.name, subjects.audit_purge(tenant_id))
        except NotFoundError:
            return None
        (head,) = decode(AuditAnchor, found.data or b"").heads
        return head.seq, head.hash

    async def of(self, tenant_id: str) -> dict[int, Point]:
        """Every anchored head of one chain: event number → (hash, when anchored)."""
        points: dict[int, Point] = {}
        subject, seq = subjects.audit_anchor(tenant_id), 1
        while True:
            try:
                found = await self.js.get_msg(
                    streams.AUDIT_ANCHORS.name, seq=seq, subject=subject, next=True, direct=True
                )
            except NotFoundError:
                return points
            anchor = decode(AuditAnchor, found.data or b"")
            at = anchor.at.ToDatetime().isoformat() + "Z"
            for head in anchor.heads:
                if head.tenant_id == tenant_id:
                    points.setdefault(head.seq, (head.hash, at))
            assert found.seq is not None
            seq = found.seq + 1

    async def chains(self) -> set[str]:
        """The subjects of every anchored chain (to find a chain that left the database entirely)."""
        info = await self.js.stream_info(
            streams.AUDIT_ANCHORS.name, subjects_filter=f"{subjects.AUDIT_ANCHOR_PREFIX}.*"
        )
        return set((info.state.subjects or {}).keys())
