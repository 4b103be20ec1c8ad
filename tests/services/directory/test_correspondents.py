"""Correspondents from routing events: direction, establishment, and what is not a correspondent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mss.directory.correspondents import exchanges
from mss.v1 import AuditCode, AuditEvent, RouteKind

TENANTS = {"chu-demo.mssante.fr": "chu-demo", "ch-exemple.mssante.fr": "ch-exemple"}
T0 = datetime(2026, 11, 1, 8, tzinfo=UTC)


def routed(mail_from: str, recipient: str, tenant: str, kind: int, minutes: int = 0) -> AuditEvent:
    event = AuditEvent(
        code=AuditCode.AUDIT_CODE_MESSAGE_ROUTED,
        mail_from=mail_from,
        recipient=recipient,
        tenant_id=tenant,
        reason=RouteKind.Name(kind),
    )
    event.at.FromDatetime(T0 + timedelta(minutes=minutes))
    return event


def test_inbound_and_outbound_mail_make_correspondents_of_the_right_establishment() -> None:
    events = [
        routed(
            "dr.x@autre.mssante.fr", "jean.martin@chu-demo.mssante.fr", "chu-demo", RouteKind.ROUTE_KIND_LOCAL
        ),
        routed(
            "dr.x@autre.mssante.fr",
            "cardiologie@chu-demo.mssante.fr",
            "chu-demo",
            RouteKind.ROUTE_KIND_LOCAL,
            5,
        ),
        routed("jean.martin@chu-demo.mssante.fr", "Dr.X@autre.mssante.fr", "", RouteKind.ROUTE_KIND_PEER, 9),
        routed(
            "dpi@chu-demo.mssante.fr",
            "claire.durand@ch-exemple.mssante.fr",
            "ch-exemple",
            RouteKind.ROUTE_KIND_PROXY,
        ),
    ]
    found = exchanges(events, TENANTS)
    assert found[("chu-demo", "dr.x@autre.mssante.fr")] == [T0 + timedelta(minutes=9), 1, 2]
    assert found[("ch-exemple", "dpi@chu-demo.mssante.fr")] == [T0, 0, 1]  # between establishments:
    assert found[("chu-demo", "claire.durand@ch-exemple.mssante.fr")] == [T0, 1, 0]  # both sides count
    assert len(found) == 3


def test_same_establishment_null_sender_and_other_events_are_not_correspondents() -> None:
    inside = routed(
        "cardiologie@chu-demo.mssante.fr",
        "jean.martin@chu-demo.mssante.fr",
        "chu-demo",
        RouteKind.ROUTE_KIND_LOCAL,
    )
    bounce = routed("", "jean.martin@chu-demo.mssante.fr", "chu-demo", RouteKind.ROUTE_KIND_LOCAL)
    stranger = routed(
        "someone@elsewhere.fr", "x@autre.mssante.fr", "", RouteKind.ROUTE_KIND_PEER
    )  # not our sender
    other = routed(
        "dr.x@autre.mssante.fr", "jean.martin@chu-demo.mssante.fr", "chu-demo", RouteKind.ROUTE_KIND_LOCAL
    )
    other.code = AuditCode.AUDIT_CODE_STORED
    assert exchanges([inside, bounce, stranger, other], TENANTS) == {}
