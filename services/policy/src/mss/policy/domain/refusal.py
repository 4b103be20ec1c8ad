"""Verdicts that refuse, built from the rule that decided (mss.core.rules)."""

from __future__ import annotations

from typing import TypeVar

from mss.core.rules import Rule
from mss.v1 import ContentCheckReply, RecipientCheckReply, SenderCheckReply, Verdict

V = TypeVar("V", RecipientCheckReply, SenderCheckReply, ContentCheckReply)


def refusal(kind: type[V], rule: Rule, **values: object) -> V:
    """A refusal of ``kind`` by ``rule``: temporary for 4xx rules, permanent otherwise."""
    return kind(
        verdict=Verdict.VERDICT_TEMPFAIL if rule.temporary else Verdict.VERDICT_REFUSE,
        smtp_code=rule.code,
        enhanced_code=rule.enhanced,
        reason=rule.reason(**values),
        rule=rule.id,
    )
