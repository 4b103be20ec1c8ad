"""Message rates per sender over real SMTP: over the rate, MAIL FROM gets 451 4.7.1 (try later)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def policy_overrides() -> dict[str, object]:
    return {"rate_per_sender": 3, "rate_period": 3600.0}


async def test_a_sender_over_its_rate_is_told_to_try_later(dialogue: Any) -> None:
    replies = [(await dialogue.send(["jean.martin@chu-demo.mssante.fr"]))[0] for _ in range(4)]
    assert [r[:3] for r in replies[:3]] == ["250"] * 3
    assert replies[3] == "451 4.7.1 Too many messages from this sender, try again later"
