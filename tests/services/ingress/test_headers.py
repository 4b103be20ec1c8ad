"""The header summary carried by MessageReceived."""

from __future__ import annotations

from mss.ingress.headers import Summary, summarise
from mss.ingress.limits import names_xdm


def test_summary_keeps_message_id_and_x_mss_headers_only() -> None:
    content = (
        b"From: a@b.fr\r\nMessage-ID: <1@b.fr>\r\nX-MSS-CODECDA: 34112-3,\r\n PRESC-BIO\r\n"
        b"X-Mss-Ins: O\r\nSubject: XDM/1.0/DDM+CR DUPONT Jean\r\n\r\nX-MSS-NIL: in-body\r\n"
    )
    summary = summarise(content)
    assert summary.message_id == "<1@b.fr>"
    assert summary.mss == {"X-MSS-CODECDA": "34112-3, PRESC-BIO", "X-Mss-Ins": "O"}
    assert not summary.disposition_notification


def test_message_without_body_or_headers() -> None:
    assert summarise(b"") == Summary()
    assert summarise(b"Subject: x\r\n") == Summary()


def test_a_disposition_notification_is_recognised_by_its_report_type() -> None:
    mdn = b'Content-Type: multipart/report; report-type="disposition-notification";\r\n boundary="b"\r\n\r\n'
    assert summarise(mdn).disposition_notification
    dsn = b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
    assert not summarise(dsn).disposition_notification


def test_an_xdm_attachment_is_noticed_in_any_usual_spelling() -> None:
    part = b'Content-Disposition: attachment; filename="%s"\r\n'
    assert names_xdm(b"Subject: x\r\n\r\n" + part % b"IHE_XDM.ZIP")
    assert names_xdm(b"Subject: x\r\n\r\n" + part % b"ihe_xdm.zip")
    assert names_xdm(b"Subject: x\r\n\r\n" + part % b"Ihe_Xdm.Zip")
    assert not names_xdm(b"Subject: x\r\n\r\n" + part % b"IHE_XDM.PDF")
    assert not names_xdm(b"Subject: XDM/1.0/DDM+CR\r\n\r\nno attachment")
