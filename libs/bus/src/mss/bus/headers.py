"""NATS header names used by mss, and the trace context they carry."""

from __future__ import annotations

from collections.abc import Mapping

from mss.core.ids import new_trace_id, trace_id_of, traceparent

TRACEPARENT = "traceparent"
"""W3C trace context, carried on every message and request."""
MSG_ID = "Nats-Msg-Id"
"""JetStream de-duplication key: a re-published event is stored once."""


def trace_headers(incoming: Mapping[str, str] | None) -> tuple[str, dict[str, str]]:
    """Continue the trace of ``incoming`` headers (or start one): return trace id and headers."""
    trace_id = trace_id_of((incoming or {}).get(TRACEPARENT)) or new_trace_id()
    return trace_id, {TRACEPARENT: traceparent(trace_id)}
