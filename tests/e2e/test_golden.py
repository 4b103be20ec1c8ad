"""Bodies are carried byte for byte: a real-looking health message with an IHE XDM archive."""

from __future__ import annotations

import base64
import io
import zipfile

import pytest
from mss.bus import subjects
from mss.bus.codec import decode, encode
from mss.devstack.stack import Stack
from mss.testing import smtp
from mss.testing.fixtures import signed_session
from mss.v1 import AuditCode, MessageFetchReply, MessageFetchRequest

pytestmark = pytest.mark.e2e

SENDER = "dpi@autre-operateur.mssante.fr"
SAAS = "cardiologie@chu-demo.mssante.fr"
PROXY = "gerontologie@ch-exemple.mssante.fr"

CDA = """<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3"><code code="11490-0" codeSystem="2.16.840.1.113883.6.1"
 displayName="Lettre de sortie"/><recordTarget><patientRole><id extension="1234567890123"
 root="1.2.250.1.213.1.4.8"/><patient><name><family>DUPONT</family><given>Hélène</given></name>
</patient></patientRole></recordTarget></ClinicalDocument>
"""


def xdm_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("INDEX.HTM", "<html><body>IHE XDM</body></html>")
        archive.writestr("README.TXT", "Archive IHE XDM - mss golden test")
        archive.writestr("IHE_XDM/SUBSET01/METADATA.XML", '<SubmitObjectsRequest patientId="1234567890123"/>')
        archive.writestr("IHE_XDM/SUBSET01/DOC0001.XML", CDA)
    return buffer.getvalue()


def health_message() -> bytes:
    encoded = base64.encodebytes(xdm_archive()).replace(b"\n", b"\r\n")
    long_line = ("Compte rendu détaillé " * 60).encode()[:998]  # the longest line RFC 5321 allows
    assert len(long_line) == 998
    return b"".join(
        [
            b"Return-Path: <dpi@autre-operateur.mssante.fr>\r\n",
            b"From: =?utf-8?q?DPI_H=C3=B4pital?= <dpi@autre-operateur.mssante.fr>\r\n",
            f"To: <{SAAS}>, <{PROXY}>\r\n".encode(),
            b"Subject: XDM/1.0/DDM+Lettre de sortie DUPONT H\xc3\xa9l\xc3\xa8ne 19800101\r\n",
            b"Message-ID: <golden-1@autre-operateur.mssante.fr>\r\n",
            b"X-MSS-CODECDA: 11490-0\r\nX-MSS-INS: O\r\nX-MSS-NIL: LPS-DEMO-1.0\r\n",
            b"X-MSS-Long: a folded\r\n\theader value\r\n",
            b"MIME-Version: 1.0\r\n",
            b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n',
            b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
            "Bonjour, veuillez trouver la lettre de sortie de Mme Hélène DUPONT.\r\n".encode(),
            b".a line starting with a dot\r\n..two dots\r\n.\tdot and tab\r\n",
            long_line + b"\r\n",
            b"trailing spaces   \r\n\r\n\r\n",
            b'--b1\r\nContent-Type: application/zip; name="IHE_XDM.ZIP"\r\n',
            b'Content-Disposition: attachment; filename="IHE_XDM.ZIP"\r\n',
            b"Content-Transfer-Encoding: base64\r\n\r\n",
            encoded,
            b"--b1--\r\n",
        ]
    )


async def test_health_message_is_stored_and_relayed_byte_for_byte(backbone: Stack, audit, bus) -> None:
    content = health_message()
    assert backbone.pki is not None
    tls = smtp.client_tls(backbone.pki.peer_operator, backbone.pki.ca)
    queue_id = await smtp.send(backbone.layout.peer_smtp, tls, SENDER, [SAAS, PROXY], content)
    await audit.wait_for(queue_id, AuditCode.AUDIT_CODE_STORED, SAAS)
    await audit.wait_for(queue_id, AuditCode.AUDIT_CODE_RELAYED, PROXY)

    reply = await bus.request(
        subjects.MESSAGE_FETCH,
        encode(
            MessageFetchRequest(
                identity=SAAS, session=signed_session(backbone, SAAS), mailbox=SAAS, message_id=queue_id
            )
        ),
        timeout=5,
    )
    stored = decode(MessageFetchReply, reply.data).content
    assert stored == content

    folder = backbone.layout.home / "mail" / "smarthost"
    relayed = next(
        p.read_bytes()
        for p in sorted(folder.glob("*.eml"))
        if f" id {queue_id};".encode() in p.read_bytes()[:300]
    )
    trace_header_end = relayed.index(b"\r\n", relayed.index(b";\r\n\t") + 3) + 2
    assert relayed[trace_header_end:] == content
    with zipfile.ZipFile(
        io.BytesIO(base64.b64decode(stored.split(b"base64\r\n\r\n")[1].split(b"--b1--")[0]))
    ) as z:
        assert z.read("IHE_XDM/SUBSET01/DOC0001.XML").decode() == CDA
