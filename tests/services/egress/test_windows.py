"""Slow start per destination: small at first, wider with successes, halved by failures."""

from __future__ import annotations

from mss.egress.domain.windows import Windows


def test_a_destination_starts_small_and_grows_with_successes_up_to_the_maximum() -> None:
    windows = Windows(initial=2, maximum=4)
    assert [windows.acquire("mx:25") for _ in range(3)] == [True, True, False]
    assert windows.acquire("other:25")  # each destination has its own window
    windows.release("mx:25", succeeded=True)  # 1 active, limit 3
    assert [windows.acquire("mx:25") for _ in range(3)] == [True, True, False]
    for _ in range(3):
        windows.release("mx:25", succeeded=True)
    assert windows.window("mx:25").limit == 4  # capped


def test_a_failure_halves_the_window_but_never_below_one() -> None:
    windows = Windows(initial=8, maximum=8)
    for _ in range(8):
        assert windows.acquire("dead:25")
    for _ in range(8):
        windows.release("dead:25", succeeded=False)
    assert windows.window("dead:25").limit == 1
    assert windows.acquire("dead:25")
    assert not windows.acquire("dead:25")
