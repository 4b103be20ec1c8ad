"""An establishment that refuses malformed IHE XDM archives gets no message accepted unchecked: when
policy's content check does not come back within ingress's bound, the client is told to retry."""

from __future__ import annotations

from typing import Any

import pytest
from mss.core.rules import CONTENT_UNCHECKED
from mss.testing.xdm import INS_A, message, xdm

pytestmark = pytest.mark.integration

JEAN = "jean.martin@chu-demo.mssante.fr"


@pytest.fixture
def ingress_overrides() -> dict[str, object]:
    return {"content_timeout": 1e-6}  # far below what reading the archive takes


async def test_a_message_whose_content_is_not_checked_in_time_is_refused_for_now(dialogue: Any) -> None:
    _, _, flagged = await dialogue.send([JEAN], message(xdm(INS_A)))  # the default rule: not checked
    assert flagged.startswith("250 2.0.0"), flagged
    await dialogue.set_tenant("chu-demo", "malformed_xdm", "refuse")
    accepted = 1
    for _ in range(100):  # until the directory's new version reaches policy (bounded)
        _, rcpt, end = await dialogue.send([JEAN], message(xdm(INS_A)))
        if not end.startswith("250"):
            break
        accepted += 1
    assert rcpt == ["250 2.1.5 Recipient OK"]
    assert end == "451 4.3.0 Message content not checked, try again later" == CONTENT_UNCHECKED.reply()
    assert len(dialogue.received) == accepted  # the refused one was not queued
