"""Token buckets per sender, with a controlled clock."""

from __future__ import annotations

from mss.policy.domain.rates import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_sender_gets_its_burst_then_its_rate_and_others_are_not_affected() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 60.0, clock=clock)
    assert [limiter.take("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.take("b")
    clock.now += 19.0  # not yet one token (one per 20 s)
    assert not limiter.take("a")
    clock.now += 1.0
    assert limiter.take("a")
    assert not limiter.take("a")
    clock.now += 600.0  # refills up to the burst only
    assert [limiter.take("a") for _ in range(4)] == [True, True, True, False]


def test_zero_disables_the_limit_and_memory_stays_bounded() -> None:
    assert all(RateLimiter(0, 60.0).take("a") for _ in range(1000))
    limiter = RateLimiter(1, 60.0, max_keys=10, clock=Clock())
    for n in range(100):
        limiter.take(f"k{n}")
    assert len(limiter._buckets) == 10


def test_an_establishments_rate_replaces_the_operators_for_its_senders() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 60.0, clock=clock)
    assert [limiter.take("strict", 1) for _ in range(2)] == [True, False]
    assert [limiter.take("generous", 5) for _ in range(6)] == [True] * 5 + [False]
    assert [limiter.take("default") for _ in range(4)] == [True, True, True, False]
    clock.now += 60.0  # one per minute at the establishment's rate of 1
    assert [limiter.take("strict", 1) for _ in range(2)] == [True, False]
    assert all(limiter.take("unlimited", 0) for _ in range(100))
