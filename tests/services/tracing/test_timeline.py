"""Which events of a timeline each viewer sees, and what support is not shown (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mss.tracing.accounts import Viewer
from mss.tracing.timeline import WITHHELD, _event, _shown
from mss.v1 import AuditCode

T1_SUPPORT = Viewer("support", "support", "ght", ("t1",))
T3_DPO = Viewer("dpo", "auditor", "ght", ("t3",))


def row(
    code: int, tenant: str = "", recipient: str = "", message_id: str = "M1", **fields: Any
) -> dict[str, Any]:
    base = dict.fromkeys(
        (
            "service",
            "reply",
            "reason",
            "next_hop",
            "mail_from",
            "trust_list_version",
            "directory_version",
            "trace_id",
            "patient_hash",
            "rule",
            "policy_version",
            "tls",
            "original_message_id",
            "hash",
        ),
        "",
    )
    return (
        base
        | {
            "at": datetime(2026, 11, 29, tzinfo=UTC),
            "code": code,
            "tenant_id": tenant,
            "recipient": recipient,
            "status": 0,
            "attempt": 0,
            "message_id": message_id,
        }
        | fields
    )


def test_support_is_not_shown_what_tells_the_content() -> None:
    malware = row(
        AuditCode.AUDIT_CODE_MESSAGE_REFUSED,
        rule="content.malware",
        reply="554 5.7.0 Message refused: malware detected (Eicar-Test-Signature)",
        reason="Eicar-Test-Signature",
    )
    inspected = row(
        AuditCode.AUDIT_CODE_CONTENT_INSPECTED, reason="IHE_XDM: 1 archive(s)", patient_hash="ab12"
    )
    unknown = row(AuditCode.AUDIT_CODE_RCPT_REFUSED, rule="recipient.unknown", reply="550 5.1.1 unknown")
    shown = [_event(r, "M1", T1_SUPPORT) for r in (malware, inspected, unknown)]  # type: ignore[arg-type]
    assert [(e["reply"], e["reason"], e["patient_hash"]) for e in shown] == [
        (WITHHELD, WITHHELD, ""),
        (WITHHELD, WITHHELD, ""),
        ("550 5.1.1 unknown", "", ""),
    ]
    auditor = _event(malware, "M1", Viewer("dpo", "auditor", "ght", ("t1",)))  # type: ignore[arg-type]
    assert auditor["reason"] == "Eicar-Test-Signature"


def test_a_receiving_establishment_sees_the_message_and_its_own_recipients_only() -> None:
    """T1 sends to b@t2 and c@t3; T3's auditor looks."""
    accepted = row(AuditCode.AUDIT_CODE_MESSAGE_ACCEPTED)
    to_b = row(AuditCode.AUDIT_CODE_MESSAGE_ROUTED, "t2", "b@t2.fr")
    to_c = row(AuditCode.AUDIT_CODE_MESSAGE_ROUTED, "t3", "c@t3.fr")
    refused_b = row(AuditCode.AUDIT_CODE_RCPT_REFUSED, "", "b@t2.fr")  # no establishment, about b
    read_by_b = row(AuditCode.AUDIT_CODE_DISPOSITION_NOTIFIED, "", "b@t2.fr", message_id="MDN1")
    read_by_c = row(AuditCode.AUDIT_CODE_DISPOSITION_NOTIFIED, "", "c@t3.fr", message_id="MDN2")
    forged = row(AuditCode.AUDIT_CODE_DISPOSITION_NOTIFIED, "", "x@t3.fr", message_id="MDN3")
    everything = [accepted, to_b, to_c, refused_b, read_by_b, read_by_c, forged]
    addressed = {"b@t2.fr", "c@t3.fr"}
    own = {"c@t3.fr"}

    def seen(sender_side: bool) -> list[dict[str, Any]]:
        return [r for r in everything if _shown(r, "M1", sender_side, T3_DPO, addressed, own)]  # type: ignore[arg-type]

    assert seen(sender_side=False) == [accepted, to_c, read_by_c]
    # as the sender's establishment: every recipient, never a notification from a non-recipient
    assert seen(sender_side=True) == [accepted, to_b, to_c, refused_b, read_by_b, read_by_c]
