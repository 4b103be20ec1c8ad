"""Per-recipient outcomes and the retry schedule."""

from __future__ import annotations

import pytest
from mss.egress.domain.outcome import Outcome, classify, parse_hop, retry_delay


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (250, Outcome.DELIVERED),
        (251, Outcome.DELIVERED),
        (421, Outcome.DEFERRED),
        (452, Outcome.DEFERRED),
        (550, Outcome.BOUNCED),
        (554, Outcome.BOUNCED),
        (-1, Outcome.DEFERRED),
    ],
)
def test_classify(code: int, outcome: Outcome) -> None:
    assert classify(code) is outcome


def test_retry_delays_grow_then_repeat_the_last() -> None:
    delays = [60.0, 300.0, 900.0]
    assert [retry_delay(n, delays) for n in range(1, 6)] == [60.0, 300.0, 900.0, 900.0, 900.0]


@pytest.mark.parametrize(
    ("hop", "expected"),
    [("10.0.0.1:2525", ("10.0.0.1", 2525)), ("mx.example", ("mx.example", 25)), ("[::1]:25", ("::1", 25))],
)
def test_parse_hop(hop: str, expected: tuple[str, int]) -> None:
    assert parse_hop(hop) == expected


@pytest.mark.parametrize("hop", [":25", "host:0", "host:99999", "host:port"])
def test_parse_hop_refuses_malformed(hop: str) -> None:
    with pytest.raises(ValueError, match="malformed"):
        parse_hop(hop)
