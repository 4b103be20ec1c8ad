"""OpenTelemetry across every hop: each service has its own tracer (``service.name`` = mss-<name>),
a span around each request it answers and each work item it handles, and the W3C trace context in
the NATS headers of every request and publish, so that one message is one trace from the SMTP
transaction at ingress to the last delivery and the audit record.

Spans are exported over OTLP/HTTP when ``otlp_endpoint`` is set (e.g. http://collector:4318/v1/traces);
tests add their own processor (an in-memory exporter) to :data:`EXTRA_PROCESSORS` before building
services.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

PROPAGATOR = TraceContextTextMapPropagator()
EXTRA_PROCESSORS: list[SpanProcessor] = []
"""Processors every tracer provider made from now on gets too (tests: an in-memory exporter)."""


def provider_for(service: str, otlp_endpoint: str) -> TracerProvider:
    """A tracer provider for one service, exporting over OTLP/HTTP when an endpoint is given."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"mss-{service}"}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    for processor in EXTRA_PROCESSORS:
        provider.add_span_processor(processor)
    return provider


@contextmanager
def span(
    tracer: Tracer, name: str, headers: Mapping[str, str] | None, kind: SpanKind = SpanKind.SERVER
) -> Iterator[Span]:
    """A span, current while the block runs, continuing the trace the headers carry (if any)."""
    parent = PROPAGATOR.extract(carrier=dict(headers or {}))
    with tracer.start_as_current_span(name, context=parent, kind=kind) as current:
        yield current


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span, as hex, or None outside any span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
