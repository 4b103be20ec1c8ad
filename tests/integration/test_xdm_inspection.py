"""An accepted message carrying an IHE XDM archive is inspected after routing: its patient is
audited as a keyed hash (never the INS), a malformed archive is flagged, delivery goes on."""

from __future__ import annotations

import asyncio
import io
import zipfile
from email.message import EmailMessage
from typing import Any
from xml.sax.saxutils import quoteattr

import nats
import pytest
from mss.bus import subjects
from mss.bus.codec import decode
from mss.policy.content import patient_hash
from mss.policy.domain.xdm import PATIENT_ID_SCHEME
from mss.testing.fixtures import RunningNats
from mss.v1 import AuditCode, AuditEvent

pytestmark = pytest.mark.integration

KEY = "test-patient-key-of-some-length"
INS = "1234567890123^^^&1.2.250.1.213.1.4.8&ISO"


@pytest.fixture
def policy_overrides() -> dict[str, object]:
    return {"patient_hash_key": KEY}


def with_xdm(metadata: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("IHE_XDM/SUBSET01/METADATA.XML", metadata)
        zipped.writestr("IHE_XDM/SUBSET01/DOC0001.XML", b"<ClinicalDocument/>")
    mail = EmailMessage()
    mail["Subject"] = "XDM/1.0/DDM+Compte rendu"
    mail["X-MSS-CODECDA"] = "34112-3"
    mail.set_content("Bonjour.")
    mail.add_attachment(buffer.getvalue(), maintype="application", subtype="zip", filename="IHE_XDM.ZIP")
    return mail.as_bytes().replace(b"\n", b"\r\n")


def metadata(*patients: str) -> bytes:
    entries = "".join(
        f'<rim:ExtrinsicObject id="d{n}"><rim:ExternalIdentifier identificationScheme="{PATIENT_ID_SCHEME}"'
        f" value={quoteattr(p)}/></rim:ExtrinsicObject>"
        for n, p in enumerate(patients)
    )
    return f'<r xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">{entries}</r>'.encode()


async def inspected(nats_server: RunningNats, dialogue: Any, message: bytes) -> AuditEvent:
    client = await nats.connect(nats_server.url)
    events: list[AuditEvent] = []

    async def collect(msg: nats.aio.msg.Msg) -> None:
        event = decode(AuditEvent, msg.data)
        if event.code == AuditCode.AUDIT_CODE_CONTENT_INSPECTED:
            events.append(event)

    try:
        await client.subscribe(subjects.audit("policy"), cb=collect)
        await client.flush()
        _, _, end = await dialogue.send(["jean.martin@chu-demo.mssante.fr"], message)
        assert end.startswith("250 2.0.0"), end
        for _ in range(500):
            if events:
                return events[0]
            await asyncio.sleep(0.01)
        raise AssertionError("no CONTENT_INSPECTED event")
    finally:
        await client.close()


async def test_the_patient_of_an_xdm_archive_is_audited_as_a_keyed_hash(
    nats_server: RunningNats, dialogue: Any
) -> None:
    event = await inspected(nats_server, dialogue, with_xdm(metadata(INS)))
    assert event.patient_hash == patient_hash(KEY.encode(), INS)
    assert event.reason == "IHE_XDM: 1 archive(s), 1 document(s), 1 patient(s)"
    assert "1234567890123" not in event.SerializeToString().decode("latin-1")


async def test_an_archive_about_two_patients_is_flagged_and_still_delivered(
    nats_server: RunningNats, dialogue: Any
) -> None:
    event = await inspected(
        nats_server, dialogue, with_xdm(metadata(INS, "2987654321098^^^&1.2.250.1.213.1.4.8&ISO"))
    )
    assert "malformed: 2 patients in one message (one expected)" in event.reason
