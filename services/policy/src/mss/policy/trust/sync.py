"""Keeping every policy replica on the same good list.

Start-up: use the bucket's ``current`` when it is valid, else load the configured source and publish
it; nothing valid at all fails start-up (ConfigError). Then watch ``current`` (every replica swaps
when a new valid revision appears) and check the source every ``refresh`` seconds: a new list is
validated and published (compare-and-set on the revision, so concurrent replicas write it once);
a bad one is refused and the last good list keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal

from mss.bus.audit import Auditor
from mss.core.errors import ConfigError, MssError
from mss.policy.trust import metrics
from mss.policy.trust.holder import TrustHolder
from mss.policy.trust.loader import Loaded, SourceConfig
from mss.policy.trust.store import IMPORTED, Meta, RevisionConflict, SourceState, Stored, TrustStore
from mss.v1 import AuditCode
from nats.aio.client import Client as NATS

log = logging.getLogger(__name__)

Outcome = Literal["not-modified", "unchanged", "published", "conflict", "refused"]


def _older(generated_at: str, than: str) -> bool:
    """True when both dates are readable and ``generated_at`` is before ``than``."""
    try:
        return datetime.fromisoformat(generated_at) < datetime.fromisoformat(than)
    except (ValueError, TypeError):  # undated, or naive against aware: no opinion
        return False


class TrustSync:
    """The list life cycle of one replica: start-up load, watcher and periodic refresh."""

    def __init__(
        self,
        holder: TrustHolder,
        source: SourceConfig,
        refresh: float,
        connection: Callable[[], NATS],
        auditor: Auditor | None = None,
    ) -> None:
        self.holder = holder
        self.source = source
        self.refresh = refresh
        self.connection = connection
        self.auditor = auditor
        self._store: TrustStore | None = None
        self._stop_watch: Callable[[], Awaitable[None]] | None = None
        self._refresh_now = False

    @property
    def store(self) -> TrustStore:
        """The bucket (available once started)."""
        if self._store is None:
            raise ConfigError("the allowed-domain list store is not open yet")
        return self._store

    async def start(self) -> None:
        """Start-up hook: install a good list (bucket, else source), then watch the bucket."""
        self._store = TrustStore(self.connection())
        await self.store.open(create=True)
        stored = await self.store.current()
        if stored is not None and await self.adopt(stored):
            self._refresh_now = True  # the source may have changed while no replica was running
        else:
            await self._first_load(stored)
        self._stop_watch = await self.store.watch(self.on_revision)

    async def _first_load(self, stored: Stored | None) -> None:
        try:
            loaded = await self.source.load()
        except MssError as exc:
            raise ConfigError(f"no valid allowed-domain list: {self.source.location}: {exc.message}") from exc
        assert loaded is not None  # an unconditional load is never "not modified"
        await self.store.save_source_state(self._state(loaded))
        try:
            meta = await self.store.publish(loaded, self.source.location, previous=stored)
        except RevisionConflict:  # another replica published first: use its list
            current = await self.store.current()
            if current is None or not await self.adopt(current):
                raise ConfigError("the allowed-domain list bucket changed under start-up") from None
            return
        metrics.CHECKED.set(time.time())
        await self.holder.swap(loaded.trust, meta)
        await self.audit(meta)

    async def adopt(self, stored: Stored) -> bool:
        """Validate a revision of the bucket and install it; False (and logged) when it is bad."""
        try:
            loaded, meta = await stored.validate(self.source.max_bytes)
        except MssError as exc:
            metrics.REJECTED.labels(origin="bucket").inc()
            log.error(
                "allowed-domain list in the bucket refused, keeping the last good one",
                extra={"revision": stored.revision, "error": str(exc), "version": self.holder.version},
            )
            return False
        await self.holder.swap(loaded.trust, meta)
        return True

    async def on_revision(self, stored: Stored) -> bool:
        """Watcher callback: a revision of ``current``; True when it is (now) the one in force."""
        if self.holder.meta is not None and stored.revision == self.holder.meta.revision:
            return True
        adopted = await self.adopt(stored)
        meta = self.holder.meta
        if adopted and meta is not None and meta.source.startswith(IMPORTED):
            await self.audit(meta)  # every replica sees it; the event's id makes it one event
        return adopted

    async def audit(self, meta: Meta) -> None:
        """Record who put a new list in force: only ops (an import) and policy may write it."""
        if self.auditor is None:
            return
        by = "ops (mss trust import)" if meta.source.startswith(IMPORTED) else "policy (from its source)"
        event = self.auditor.event(
            code=AuditCode.AUDIT_CODE_TRUST_LIST_CHANGED,
            reason=f"list {meta.version} ({meta.domains} domains, revision {meta.revision}) put in force by"
            f" {by}: {meta.source}",
            trust_list_version=meta.version,
        )
        event.event_id = f"trust-list-{meta.revision}-{meta.sha256[:16]}"
        try:
            await self.auditor.emit(event)
        except Exception:  # the list is in force; say loudly that its change is not in the trail
            log.error("allowed-domain list change not audited", extra={"version": meta.version})

    async def stop(self) -> None:
        """Stop watching the bucket."""
        if self._stop_watch is not None:
            stop, self._stop_watch = self._stop_watch, None
            await stop()

    def _state(self, loaded: Loaded) -> SourceState:
        return SourceState(
            location=self.source.location,
            sha256=loaded.sha256,
            generated_at=loaded.trust.generated_at,
            etag=loaded.validators.etag,
            last_modified=loaded.validators.last_modified,
        )

    async def refresh_once(self) -> Outcome:
        """Check the source once; publish a new valid list, refuse a bad or older one."""
        current = await self.store.current()
        good = current is not None and await self.on_revision(current)  # heals a missed revision
        state = await self.store.source_state()
        if state is not None and state.location != self.source.location:
            state = None  # the source was reconfigured: take what it serves now
        try:
            loaded = await self.source.load(state.validators if state is not None else None)
        except MssError as exc:
            metrics.REJECTED.labels(origin="source").inc()
            log.error(
                "allowed-domain list refresh failed, keeping the last good one",
                extra={"source": self.source.location, "error": str(exc), "version": self.holder.version},
            )
            return "refused"
        metrics.CHECKED.set(time.time())
        if loaded is None or (state is not None and state.sha256 == loaded.sha256):
            return "not-modified" if loaded is None else "unchanged"
        if state is not None and _older(loaded.trust.generated_at, state.generated_at):
            metrics.REJECTED.labels(origin="source").inc()
            log.error(
                "allowed-domain list from the source is older than the last one seen, refused",
                extra={"source": self.source.location, "generated_at": loaded.trust.generated_at},
            )
            return "refused"
        await self.store.save_source_state(self._state(loaded))
        if good and self.holder.version == loaded.trust.version:
            return "unchanged"
        try:
            meta = await self.store.publish(loaded, self.source.location, previous=current)
        except RevisionConflict:
            log.info("allowed-domain list published concurrently; the watcher takes the newest")
            return "conflict"
        await self.holder.swap(loaded.trust, meta)
        await self.audit(meta)
        return "published"

    async def refresh_loop(self) -> None:
        """Background task: check the source every ``refresh`` seconds (never when 0)."""
        if self.refresh <= 0:
            return
        if not self._refresh_now:
            await asyncio.sleep(self.refresh)
        while True:
            try:
                await self.refresh_once()
            except MssError as exc:  # NATS trouble: try again next time
                log.error("allowed-domain list refresh failed", extra={"error": str(exc)})
            except Exception:
                log.exception("allowed-domain list refresh failed")
            await asyncio.sleep(self.refresh)
