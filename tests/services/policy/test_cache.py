"""The directory answer cache: time to live, bound, and off switch."""

from __future__ import annotations

from mss.policy.domain.cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_their_time_to_live() -> None:
    clock = Clock()
    cache: TtlCache[str] = TtlCache(ttl=5.0, max_entries=10, clock=clock)
    cache.put("a", "A")
    clock.now += 4.9
    assert cache.get("a") == "A"
    clock.now += 0.1
    assert cache.get("a") is None


def test_oldest_entries_are_evicted_beyond_the_bound() -> None:
    cache: TtlCache[int] = TtlCache(ttl=60.0, max_entries=2, clock=Clock())
    for key, value in (("a", 1), ("b", 2), ("c", 3)):
        cache.put(key, value)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, 2, 3)


def test_zero_ttl_disables_the_cache() -> None:
    cache: TtlCache[int] = TtlCache(ttl=0, max_entries=2, clock=Clock())
    cache.put("a", 1)
    assert cache.get("a") is None
