"""Disposition notifications read for the timeline: the original's Message-ID, who, what."""

from __future__ import annotations

from mss.policy.domain.mdn import Disposition, read

MDN = (
    b'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nAffiche.\r\n"
    b"--b\r\nContent-Type: message/disposition-notification\r\n\r\n"
    b"Reporting-UA: webmail\r\nFinal-Recipient: rfc822; Jean@chu.fr\r\n"
    b"Original-Message-ID: <cr-1@ch.fr>\r\nDisposition: automatic-action/MDN-sent-automatically;"
    b" processed/error\r\n\r\n--b--\r\n"
)


def test_a_notification_names_the_original_the_recipient_and_the_disposition() -> None:
    assert read(MDN) == Disposition(
        "<cr-1@ch.fr>", "Jean@chu.fr", "processed/error", "automatic-action/MDN-sent-automatically"
    )


def test_a_message_without_a_usable_notification_gives_nothing() -> None:
    assert read(b"Subject: x\r\n\r\nhello\r\n") is None
    assert read(MDN.replace(b"Original-Message-ID: <cr-1@ch.fr>\r\n", b"")) is None
    assert read(b"\xff\xfe garbage \x00") is None
