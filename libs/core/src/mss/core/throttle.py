"""Failed-authentication limits: too many recent failures for a login or a client address
suspend further attempts for it until the oldest failure leaves the window."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable


class FailureLimiter:
    """Counts failures per key in a sliding window (in memory, per replica)."""

    def __init__(
        self,
        max_failures: int,
        window: float,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def blocked(self, keys: Iterable[str]) -> str | None:
        """The first of ``keys`` that has reached the limit, or None."""
        now = self.clock()
        for key in keys:
            times = self._recent(key, now)
            if times is not None and len(times) >= self.max_failures:
                return key
        return None

    def failed(self, keys: Iterable[str]) -> None:
        """Record one failure for each of ``keys``."""
        now = self.clock()
        if len(self._failures) >= self.max_keys:
            self._evict(now)
        for key in keys:
            times = self._recent(key, now)
            if times is None:
                times = self._failures[key] = deque(maxlen=self.max_failures)
            times.append(now)

    def succeeded(self, key: str) -> None:
        """Forget the failures of ``key`` (a login that finally got its password right)."""
        self._failures.pop(key, None)

    def _evict(self, now: float) -> None:
        """Drop expired keys; if still full, the oldest half (bounded memory under attack)."""
        for key in list(self._failures):
            self._recent(key, now)
        if len(self._failures) >= self.max_keys:
            ordered = sorted(self._failures, key=lambda k: self._failures[k][-1])
            for key in ordered[: len(ordered) // 2]:
                del self._failures[key]
