"""NATS header names used by mss, and the trace context they carry."""

from __future__ import annotations

from collections.abc import Mapping

from mss.bus.telemetry import current_ids
from mss.core.ids import new_trace_id, trace_id_of, traceparent

TRACEPARENT = "traceparent"
"""W3C trace context, carried on every message and request."""
MSG_ID = "Nats-Msg-Id"
"""JetStream de-duplication key: a re-published event is stored once."""
CALLER = "Mss-Caller"
"""The NATS identity that asked a caller-in-subject request, set by the responder from the subject
(whatever the request's own headers said)."""


def trace_headers(incoming: Mapping[str, str] | None) -> tuple[str, dict[str, str]]:
    """Continue the trace of ``incoming`` headers (or start one): return the trace id and the headers
    of what the handler sends on. Inside a span (see mss.bus.telemetry), the current span is the
    parent of what follows."""
    current = current_ids()
    if current is not None:
        return current[0], {TRACEPARENT: traceparent(*current)}
    trace_id = trace_id_of((incoming or {}).get(TRACEPARENT)) or new_trace_id()
    return trace_id, {TRACEPARENT: traceparent(trace_id)}


def context_headers(trace_id: str) -> dict[str, str]:
    """The trace header of something about ``trace_id`` (an audit event): parented to the current
    span when it belongs to that trace."""
    current = current_ids()
    span_id = current[1] if current is not None and current[0] == trace_id else None
    return {TRACEPARENT: traceparent(trace_id, span_id)}
