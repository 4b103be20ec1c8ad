"""An accepted message carrying an IHE XDM archive is inspected after routing: its patient is
audited as a keyed hash (never the INS), a malformed archive is flagged, delivery goes on."""

from __future__ import annotations

import asyncio
from typing import Any

import nats
import pytest
from mss.bus import subjects
from mss.bus.codec import decode
from mss.bus.connection import settled
from mss.core.patients import patient_hash
from mss.testing.fixtures import RunningNats
from mss.testing.xdm import INS_A, INS_B, message, xdm
from mss.v1 import AuditCode, AuditEvent

pytestmark = pytest.mark.integration

KEY = "test-patient-key-of-some-length"
INS = INS_A


@pytest.fixture
def policy_overrides() -> dict[str, object]:
    return {"patient_hash_key": KEY}


async def inspected(nats_server: RunningNats, dialogue: Any, message: bytes) -> AuditEvent:
    client = await nats_server.connect()
    events: list[AuditEvent] = []

    async def collect(msg: nats.aio.msg.Msg) -> None:
        event = decode(AuditEvent, msg.data)
        if event.code == AuditCode.AUDIT_CODE_CONTENT_INSPECTED:
            events.append(event)

    try:
        await client.subscribe(subjects.audit("policy"), cb=collect)
        await settled(client)
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
    event = await inspected(nats_server, dialogue, message(xdm(INS)))
    assert event.patient_hash == patient_hash(KEY.encode(), INS)
    assert event.reason == "IHE_XDM: 1 archive(s), 1 document(s), 1 patient(s)"
    assert "1234567890123" not in event.SerializeToString().decode("latin-1")


async def test_an_archive_about_two_patients_is_flagged_and_still_delivered(
    nats_server: RunningNats, dialogue: Any
) -> None:
    event = await inspected(nats_server, dialogue, message(xdm(INS, INS_B)))
    assert "malformed: 2 patients in one message (one expected)" in event.reason
