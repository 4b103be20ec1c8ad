"""OpenTelemetry across the hops: one message accepted over SMTP is one trace, whose spans come from
ingress, policy, directory, storage and tracing, each parented to the hop that led to it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from mss.bus import telemetry
from mss.testing.fixtures import RunningNats
from mss.testing.inprocess import running
from mss.tracing.app import build as build_tracing
from mss.tracing.settings import TracingSettings
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

pytestmark = pytest.mark.integration

JEAN = "jean.martin@chu-demo.mssante.fr"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Spans of every service built while the test runs, kept in memory."""
    found = InMemorySpanExporter()
    processor = SimpleSpanProcessor(found)
    telemetry.EXTRA_PROCESSORS.append(processor)
    try:
        yield found
    finally:
        telemetry.EXTRA_PROCESSORS.remove(processor)


@pytest.fixture
def policy_overrides(exporter: InMemorySpanExporter) -> dict[str, object]:
    return {}  # depends on the exporter, so that it is in place before the services are built


def service_of(span: ReadableSpan) -> str:
    return str(span.resource.attributes.get("service.name", ""))


async def test_one_message_is_one_trace_across_the_services(
    dialogue: Any, exporter: InMemorySpanExporter, nats_server: RunningNats, database_url: str
) -> None:
    tracing = TracingSettings(**nats_server.settings("tracing"), http_port=0, database_url=database_url)
    async with running(build_tracing(tracing)):
        _, rcpt, end = await dialogue.send([JEAN])
        assert rcpt == ["250 2.1.5 Recipient OK"]
        queue_id = end.rsplit(" ", 1)[1]
        wanted = {"mss-ingress", "mss-policy", "mss-directory", "mss-storage", "mss-tracing"}
        for _ in range(500):  # the hops after the 250 run on; stop once each has a span in the trace
            roots = [s for s in exporter.get_finished_spans() if s.attributes.get("mss.queue_id") == queue_id]
            trace_id = roots[0].context.trace_id if roots else None
            spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]
            by_id = {s.context.span_id: s for s in spans}
            recorded_for = {  # whose audit events tracing has recorded so far
                service_of(by_id[s.parent.span_id])
                for s in spans
                if service_of(s) == "mss-tracing" and s.parent and s.parent.span_id in by_id
            }
            if (
                wanted <= {service_of(s) for s in spans}
                and any(s.name.startswith("mss.v1.policy.deliver.local") for s in spans)
                and {"mss-ingress", "mss-policy", "mss-storage"} <= recorded_for
            ):
                break
            await asyncio.sleep(0.02)
    (root,) = roots
    assert root.parent is None
    by_id = {s.context.span_id: s for s in spans}
    assert {service_of(s) for s in spans} >= wanted

    def parent(span: ReadableSpan) -> ReadableSpan:
        assert span.parent is not None, span.name
        return by_id[span.parent.span_id]

    rcpt_check = next(s for s in spans if s.name == "mss.v1.policy.rcpt_check")
    assert parent(rcpt_check) is root
    lookup = next(s for s in spans if s.name == "mss.v1.directory.lookup" and parent(s) is rcpt_check)
    assert service_of(lookup) == "mss-directory"
    routed = next(s for s in spans if s.name == "mss.v1.ingress.received")
    assert (service_of(routed), parent(routed)) == ("mss-policy", root)
    stored = next(s for s in spans if s.name == "mss.v1.policy.deliver.local")
    assert (service_of(stored), parent(stored)) == ("mss-storage", routed)
    recorded = [s for s in spans if service_of(s) == "mss-tracing"]
    assert {service_of(parent(s)) for s in recorded} >= {"mss-ingress", "mss-policy", "mss-storage"}
