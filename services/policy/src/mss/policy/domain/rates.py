"""Message rates per sender (an authenticated identity, an applicative mailbox, a peer operator):
token buckets refilled continuously, one per key, in memory (per policy replica)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    """``rate`` messages per ``period`` seconds per key, with bursts up to ``rate``; 0 disables it."""

    def __init__(
        self, rate: int, period: float, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.period = period
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str, rate: int | None = None) -> bool:
        """Spend one token of ``key``; False when none is left (the caller refuses for now).

        ``rate`` replaces the limiter's own for this key (an establishment's rate for its sender).
        """
        rate = self.rate if rate is None else rate
        if rate <= 0:
            return True
        now = self.clock()
        tokens, at = self._buckets.pop(key, (float(rate), now))
        tokens = min(float(rate), tokens + (now - at) * rate / self.period)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.max_keys:  # the least recently seen go first (full buckets)
            self._buckets.popitem(last=False)
        return allowed
