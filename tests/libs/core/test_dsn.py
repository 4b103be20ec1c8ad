"""RFC 3464 reports: parseable by a standard parser, one block per failed recipient, headers only."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy

import pytest
from mss.core.dsn import (
    Outcome,
    build,
    encode_xtext,
    envelope_options,
    original_headers,
    recipient_options,
    status_of,
    wanted,
)

ORIGINAL = b"Subject: CR\r\nX-MSS-CODECDA: 34112-3\r\n\r\nconfidential body\r\n"


def report(**extra: object) -> email.message.Message:
    raw = build(
        reporting_mta="mss.example",
        sender="jean@chu.mssante.fr",
        queue_id="01QUEUE",
        arrival=datetime(2026, 11, 29, 8, 0, tzinfo=UTC),
        now=datetime(2026, 11, 29, 9, 0, tzinfo=UTC),
        outcomes=[
            Outcome(
                "a@ch.mssante.fr",
                "550 5.1.1 <a@ch.mssante.fr>: User unknown",
                "mx.ch:25",
                orcpt="rfc822;A@ch",
            ),
            Outcome("b@ch.mssante.fr", "550 5.3.0 Delivery cancelled by the operator: closed\r\nInjected: x"),
        ],
        content=ORIGINAL,
        boundary="01REPORT/mss.example",
        **extra,  # type: ignore[arg-type]
    )
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line ends only
    return email.message_from_bytes(raw, policy=policy.compat32)


def test_a_report_has_the_three_parts_and_one_block_per_recipient() -> None:
    parsed = report()
    assert (parsed.get_content_type(), parsed.get_param("report-type")) == (
        "multipart/report",
        "delivery-status",
    )
    human, status, headers = parsed.get_payload()
    assert "<a@ch.mssante.fr>: 550 5.1.1" in human.get_payload()
    message_block, first, second = status.get_payload()
    assert message_block["Reporting-MTA"] == "dns; mss.example"
    assert message_block["X-Mss-Queue-ID"] == "01QUEUE"
    assert (first["Final-Recipient"], first["Status"], first["Remote-MTA"]) == (
        "rfc822; a@ch.mssante.fr",
        "5.1.1",
        "dns; mx.ch:25",
    )
    assert (first["Original-Recipient"], first["Action"]) == ("rfc822;A@ch", "failed")
    assert message_block["Original-Envelope-Id"] is None
    assert (second["Status"], second["Remote-MTA"], second["Injected"]) == ("5.3.0", None, None)
    assert headers.get_content_type() == "text/rfc822-headers"
    assert "X-MSS-CODECDA: 34112-3" in headers.get_payload()
    assert "confidential" not in parsed.as_string()


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        ("550 5.1.1 unknown", "5.1.1"),
        ("451 4.4.1 connection refused (message lifetime exceeded)", "4.4.1"),
        ("554 transaction failed", "5.0.0"),
        ("garbage", "5.0.0"),
    ],
)
def test_status_comes_from_the_reply(reply: str, status: str) -> None:
    assert status_of(reply) == status


def test_original_headers_stop_at_the_body_and_use_crlf() -> None:
    assert original_headers(b"A: 1\nB: 2\n\nbody") == b"A: 1\r\nB: 2"
    assert original_headers(b"A: 1\r\n") == b"A: 1\r\n"


def test_ret_full_returns_the_whole_message_and_envid_comes_back() -> None:
    parsed = report(full=True, envid="QQ314159")
    _, status, original = parsed.get_payload()
    assert status.get_payload()[0]["Original-Envelope-Id"] == "QQ314159"
    assert original.get_content_type() == "message/rfc822"
    assert "confidential body" in parsed.as_string()


@pytest.mark.parametrize(
    ("notify", "action", "reported"),
    [
        ("", "failed", True),
        ("", "delivered", False),
        ("NEVER", "failed", False),
        ("SUCCESS", "delivered", True),
        ("SUCCESS", "relayed", True),
        ("SUCCESS", "failed", False),
        ("FAILURE,DELAY", "failed", True),
    ],
)
def test_notify_decides_what_is_reported(notify: str, action: str, reported: bool) -> None:
    assert wanted(notify, action) is reported


def test_dsn_parameters_are_passed_on_as_xtext() -> None:
    assert encode_xtext("a+b=c d@é") == "a+2Bb+3Dc+20d@+C3+A9"
    assert envelope_options("HDRS", "id 1") == ["RET=HDRS", "ENVID=id+201"]
    assert envelope_options("", "") == []
    assert recipient_options("SUCCESS,FAILURE", "rfc822;Jean+x@chu.fr") == [
        "NOTIFY=SUCCESS,FAILURE",
        "ORCPT=rfc822;Jean+2Bx@chu.fr",
    ]
