"""The allowed-domain list in force in one process, swapped atomically.

Readers take ``holder()`` once per decision and keep that object: a swap replaces the reference,
never the content, so a decision and the version it records always belong together.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from mss.core.errors import UnavailableError
from mss.policy.domain.trustlist import TrustList
from mss.policy.trust import metrics
from mss.policy.trust.store import Meta

log = logging.getLogger(__name__)

Listener = Callable[[TrustList | None, TrustList, Meta], None]
"""Called after each change with the old list (None at first), the new one and its metadata."""


class TrustHolder:
    """Holds the current TrustList; ``holder()`` returns it (a ``Callable[[], TrustList]``)."""

    def __init__(self) -> None:
        self._current: TrustList | None = None
        self.meta: Meta | None = None
        """Metadata of the list in force (source, loaded_at, KV revision)."""
        self.listeners: list[Listener] = []
        self._changed = asyncio.Condition()

    def __call__(self) -> TrustList:
        """The list in force; UnavailableError before the first one is installed."""
        if self._current is None:
            raise UnavailableError("no allowed-domain list loaded yet")
        return self._current

    @property
    def loaded(self) -> bool:
        """True once a list is installed."""
        return self._current is not None

    @property
    def version(self) -> str:
        """Version of the list in force ("" before the first)."""
        return self._current.version if self._current is not None else ""

    async def swap(self, trust: TrustList, meta: Meta) -> bool:
        """Install ``trust`` unless it is the version in force; return True when it changed."""
        old = self._current
        if self.meta is not None and 0 < meta.revision < self.meta.revision:
            return False  # a slower path brings an older revision: the newer one stays
        if old is not None and old.version == trust.version:
            self.meta = meta if meta.revision else self.meta
            return False
        self._current, self.meta = trust, meta
        metrics.observe(trust)
        before = set(old.domains) if old is not None else set()
        after = set(trust.domains)
        log.info(
            "allowed-domain list changed",
            extra={
                "event": "trust_list_changed",
                "old_version": old.version if old is not None else "",
                "new_version": trust.version,
                "domains": len(after),
                "added": len(after - before),
                "removed": len(before - after),
                "source": meta.source,
                "loaded_at": meta.loaded_at,
                "revision": meta.revision,
            },
        )
        for warning in trust.warnings:
            log.warning("allowed-domain list repaired", extra={"repair": warning, "version": trust.version})
        for listener in self.listeners:
            listener(old, trust, meta)
        async with self._changed:
            self._changed.notify_all()
        return True

    async def wait_for(self, predicate: Callable[[TrustList], bool]) -> TrustList:
        """Wait until the list in force satisfies ``predicate`` (bound it with asyncio.timeout)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._current is not None and predicate(self._current))
        return self()
