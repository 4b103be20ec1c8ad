"""Queue ids and W3C trace context."""

from __future__ import annotations

import pytest
from mss.core.ids import new_queue_id, new_trace_id, trace_id_of, traceparent


def test_queue_ids_are_unique_sortable_and_smtp_safe() -> None:
    ids = [new_queue_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 26 and i.isalnum() and i.isupper() for i in ids)
    assert [i[:10] for i in ids] == sorted(i[:10] for i in ids)


def test_traceparent_round_trip() -> None:
    trace = new_trace_id()
    assert trace_id_of(traceparent(trace)) == trace


@pytest.mark.parametrize(
    "header", [None, "", "garbage", "00-xyz-0000000000000001-01", "00-" + "0" * 32 + "-0000000000000001-01"]
)
def test_malformed_traceparent_is_ignored(header: str | None) -> None:
    assert trace_id_of(header) is None
