"""A bounded cache of directory answers with a time to live.

RCPT checks repeat the same addresses all day; answering them from memory for a few seconds saves a
directory round trip per recipient. A change in the directory (a suspended mailbox) therefore takes
effect within the time to live; 0 disables the cache.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    """Least-recently-inserted eviction, entries expire ``ttl`` seconds after insertion."""

    def __init__(self, ttl: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def get(self, key: str) -> V | None:
        """The live value of ``key``, or None."""
        if self.ttl <= 0:
            return None
        found = self._entries.get(key)
        if found is None:
            return None
        expires, value = found
        if expires <= self.clock():
            del self._entries[key]
            return None
        return value

    def put(self, key: str, value: V) -> None:
        """Remember ``value`` for ``ttl`` seconds, evicting the oldest entry when full."""
        if self.ttl <= 0:
            return
        self._entries.pop(key, None)
        self._entries[key] = (self.clock() + self.ttl, value)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
