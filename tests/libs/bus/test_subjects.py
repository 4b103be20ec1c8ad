"""Destinations as subject tokens: safe for NATS and read back exactly."""

from __future__ import annotations

import pytest
from mss.bus import subjects


@pytest.mark.parametrize(
    "destination", ["mx.ch-exemple.fr:25", "127.0.0.1:2626", "[::1]:25", "exchange.local"]
)
def test_a_destination_round_trips_through_its_token(destination: str) -> None:
    token = subjects.destination_token(destination)
    assert not set(token) & set(". *>")
    assert subjects.destination_of(token) == destination
    assert subjects.retry(destination, "01ABC") == f"{subjects.RETRY_PREFIX}.{token}.01ABC"


def test_wildcards_and_spaces_cannot_reach_a_subject() -> None:
    assert subjects.destination_token("a b>*.c") == "a_b___c"
    assert subjects.destination_token("") == "unrouted"
