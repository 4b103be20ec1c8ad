"""Messages mixing trust-space and outside recipients, over real SMTP: refused whole at the end of
DATA by default (nothing queued), or delivered to the trust-space recipients only when the
sender's establishment chose so."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from mss.v1 import AuditCode

pytestmark = pytest.mark.integration

INSIDE = [
    "jean.martin@chu-demo.mssante.fr",  # ours, SaaS
    "claire.durand@ch-exemple.mssante.fr",  # ours, proxy
    "dr.x@autre-operateur.mssante.fr",  # another operator of the list
]
OUTSIDE = ["someone@gmail.com", "dr.y@clinique-hors-liste.fr", "x@mssante.fr.example.com"]


async def test_by_default_a_mixed_message_is_refused_whole_naming_the_outside_recipients(
    dialogue: Any, until: Any
) -> None:
    _, rcpt, end = await dialogue.send([INSIDE[0], OUTSIDE[0], INSIDE[2], OUTSIDE[1]])
    assert [r[:3] for r in rcpt] == ["250"] * 4
    assert "outside the MSSante trust space" in rcpt[1]
    assert end == (
        "550 5.7.1 Message refused: recipients outside the MSSante trust space: <someone@gmail.com>,"
        " <dr.y@clinique-hors-liste.fr>"
    )
    await until(dialogue.audit, 1)
    assert dialogue.received == []  # ingress publishes a message before it answers: never here
    refused = [a for a in dialogue.audit if a.code == AuditCode.AUDIT_CODE_MESSAGE_REFUSED]
    assert len(refused) == 1
    assert "someone@gmail.com" in refused[0].reason
    assert refused[0].reply == end


async def test_a_message_for_outside_recipients_only_is_refused_at_the_end_of_data(dialogue: Any) -> None:
    _, rcpt, end = await dialogue.send([OUTSIDE[2]])
    assert rcpt[0].startswith("250")
    assert end.startswith("550 5.7.1 Message refused")


async def test_an_establishment_may_deliver_to_the_trust_space_recipients_only(
    dialogue: Any, until: Any
) -> None:
    await dialogue.set_tenant("chu-demo", "mixed_recipients", "deliver_valid")
    for _ in range(100):  # the directory reads the registry again within its refresh interval
        _, rcpt, end = await dialogue.send([INSIDE[0], OUTSIDE[0]])
        if rcpt[1].startswith("550"):
            break
        await asyncio.sleep(0.05)
    assert rcpt == ["250 2.1.5 Recipient OK", "550 5.7.1 Recipient domain is outside the MSSante trust space"]
    assert end.startswith("250 2.0.0 Ok: queued as ")
    await until(dialogue.received, 1)
    assert [r.address for r in dialogue.received[-1].recipients] == [INSIDE[0]]


async def test_no_combination_of_recipients_reaches_outside_the_trust_space(
    dialogue: Any, until: Any
) -> None:
    """Property, over 40 random combinations (fixed seed): under "refuse whole", either the message
    is refused with every outside recipient named, or it is queued for trust-space recipients only."""
    rng = random.Random(20261129)
    pool = INSIDE + OUTSIDE + ["Someone@GMAIL.com", "nobody@chu-demo.mssante.fr"]
    inside_domains = {a.split("@")[1] for a in INSIDE}
    for _ in range(40):
        recipients = rng.sample(pool, rng.randint(1, 5))
        before = len(dialogue.received)
        _, _, end = await dialogue.send(recipients)
        outside = [r for r in recipients if r.lower().split("@")[1] not in inside_domains]
        if outside:
            assert end.startswith("550 5.7.1 Message refused"), (recipients, end)
            for address in outside:
                assert f"<{address}>" in end
        if end.startswith("250"):
            await until(dialogue.received, before + 1)
        queued = [r.address for m in dialogue.received[before:] for r in m.recipients]
        assert set(queued) <= set(INSIDE), (recipients, queued)
        if outside:
            assert queued == []
