"""Anchors of the audit trail: tracing periodically publishes each chain's head (number and hash of
its last event) when it has moved, to MSS_AUDIT_ANCHORS, a JetStream stream kept apart from
PostgreSQL that refuses deletes and purges. Whoever rewrites a chain in the database, hashes and
head included, leaves it different from the heads anchored before, which `mss audit verify` checks
one by one."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
from mss.bus import streams, subjects
from mss.bus.codec import decode, encode, now_timestamp
from mss.bus.service import BusService
from mss.v1 import AuditAnchor, AuditChainHead
from nats.js.errors import NotFoundError


@dataclass
class Anchors:
    """Publishes moved heads; reads a chain's anchors back."""

    service: BusService
    published: dict[str, tuple[int, str]] = field(default_factory=dict)
    """What this process last anchored, per establishment (each start anchors every head again)."""

    async def publish(self, pool: asyncpg.Pool) -> int:
        """Anchor every head that moved since the last call; return how many were."""
        rows = await pool.fetch("SELECT tenant_id, seq, hash FROM audit_chain WHERE seq > 0")
        moved = 0
        for row in rows:
            head = (row["seq"], row["hash"])
            if self.published.get(row["tenant_id"]) == head:
                continue
            anchor = AuditAnchor(
                heads=[AuditChainHead(tenant_id=row["tenant_id"], seq=head[0], hash=head[1])]
            )
            anchor.at.CopyFrom(now_timestamp())
            await self.service.publish(subjects.audit_anchor(row["tenant_id"]), encode(anchor), {})
            self.published[row["tenant_id"]] = head
            moved += 1
        return moved

    async def of(self, tenant_id: str) -> dict[int, tuple[str, str]]:
        """Every anchored head of one chain: event number → (hash, when anchored)."""
        points: dict[int, tuple[str, str]] = {}
        subject, seq = subjects.audit_anchor(tenant_id), 1
        while True:
            try:
                found = await self.service.js.get_msg(
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
        info = await self.service.js.stream_info(
            streams.AUDIT_ANCHORS.name, subjects_filter=f"{subjects.AUDIT_ANCHOR_PREFIX}.*"
        )
        return set((info.state.subjects or {}).keys())
