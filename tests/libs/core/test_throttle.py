"""Failed-authentication limits over a sliding window, with a controlled clock."""

from __future__ import annotations

from mss.core.throttle import FailureLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_blocks_the_key_that_reached_it_until_the_window_passes() -> None:
    clock = Clock()
    limiter = FailureLimiter(3, 60.0, clock=clock)
    for _ in range(2):
        limiter.failed(["login:a", "client:1"])
    assert limiter.blocked(["login:a", "client:1"]) is None
    limiter.failed(["login:a", "client:2"])
    assert limiter.blocked(["login:b", "client:1"]) is None  # client 1 has two failures only
    assert limiter.blocked(["login:a", "client:9"]) == "login:a"
    clock.now += 59.0
    assert limiter.blocked(["login:a"]) == "login:a"
    clock.now += 1.0  # the first failure leaves the window
    assert limiter.blocked(["login:a"]) is None


def test_a_success_forgets_the_failures_of_the_login_not_of_the_client() -> None:
    limiter = FailureLimiter(2, 60.0, clock=Clock())
    limiter.failed(["login:a", "client:1"])
    limiter.failed(["login:a", "client:1"])
    limiter.succeeded("login:a")
    assert limiter.blocked(["login:a"]) is None
    assert limiter.blocked(["client:1"]) == "client:1"


def test_memory_stays_bounded_under_many_keys() -> None:
    clock = Clock()
    limiter = FailureLimiter(2, 60.0, max_keys=100, clock=clock)
    for n in range(1000):
        clock.now += 0.001
        limiter.failed([f"login:{n}"])
    assert len(limiter._failures) <= 100
    assert limiter.blocked(["login:999"]) is None  # one failure: not blocked, but still counted
    limiter.failed(["login:999"])
    assert limiter.blocked(["login:999"]) == "login:999"
