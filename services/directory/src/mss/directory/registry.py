"""Our establishments' domains and mailboxes, held in memory for lookups at request speed.

The whole registry (thousands of mailboxes) is read again whenever the directory version in
PostgreSQL changes: checked every ``refresh_interval`` seconds, and at once after a change made
through this process's admin API. Other replicas see a change within one interval.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
from mss.directory.lookup import normalise, reply_for
from mss.v1 import AddressLookupReply

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """One consistent read of the registry."""

    version: int
    domains: dict[str, dict[str, Any]]
    mailboxes: dict[str, dict[str, Any]]


class Registry:
    """The registry in memory, replaced whole (readers never see half of a change)."""

    def __init__(self, pool: asyncpg.Pool, refresh_interval: float) -> None:
        self.pool = pool
        self.refresh_interval = refresh_interval
        self.snapshot = Snapshot(-1, {}, {})
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Read the registry again if its version moved."""
        async with self._lock:
            version = await self.pool.fetchval("SELECT version FROM directory_meta")
            if version == self.snapshot.version:
                return
            async with (
                self.pool.acquire() as conn,
                conn.transaction(isolation="repeatable_read", readonly=True),
            ):
                version = await conn.fetchval("SELECT version FROM directory_meta")
                domains = await conn.fetch(
                    "SELECT d.name, d.tenant_id, d.mode, d.smarthost, d.smarthost_tls,"
                    " t.mixed_recipients, t.max_message_bytes, t.suspended_reply, t.strict_national,"
                    " t.rate_per_sender, t.malformed_xdm"
                    " FROM domains d JOIN tenants t ON t.id = d.tenant_id"
                )
                mailboxes = await conn.fetch(
                    "SELECT address, domain, type, status, certificate_dn, display_name, owner_rpps,"
                    " max_message_bytes, quota_bytes"
                    " FROM mailboxes"
                )
            self.snapshot = Snapshot(
                version, {d["name"]: dict(d) for d in domains}, {m["address"]: dict(m) for m in mailboxes}
            )
            log.info("registry loaded", extra={"version": version, "mailboxes": len(mailboxes)})

    async def refresh_forever(self) -> None:
        """Follow the directory version (a failed read keeps the previous snapshot)."""
        while True:
            await asyncio.sleep(self.refresh_interval)
            try:
                await self.refresh()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("registry not refreshed", extra={"error": str(exc)})

    def tenants(self) -> dict[str, str]:
        """Our domains and the establishment owning each."""
        return {name: str(domain["tenant_id"]) for name, domain in self.snapshot.domains.items()}

    def lookup(self, address: str) -> AddressLookupReply:
        """What the registry knows of ``address``."""
        snapshot = self.snapshot
        parts = normalise(address)
        if parts is None:
            return AddressLookupReply(directory_version=str(snapshot.version))
        address, domain = parts
        return reply_for(snapshot.domains.get(domain), snapshot.mailboxes.get(address), snapshot.version)
