"""Every policy rule over a real SMTP session, with its exact replies: one row per rule (and per way
it can be met), checking the replies to MAIL FROM, each RCPT TO and the end of DATA, and the audit
event that records the rule id and the policy version. Rules that cannot be met through this
harness are listed with the test that covers them; a test checks that no rule is left out."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from mss.bus import subjects
from mss.bus.codec import decode, encode
from mss.core.rules import RULES, RULESET
from mss.devstack.pki import Issued
from mss.directory.national.extraction import HEADER
from mss.directory.national.importer import import_extraction
from mss.testing.xdm import message as xdm_message
from mss.testing.xdm import xdm, zip_bomb
from mss.v1 import AddressLookupReply, AddressLookupRequest, AuditEvent

pytestmark = pytest.mark.integration

JEAN = "jean.martin@chu-demo.mssante.fr"
PEER_DN = "CN=smtp-1.autre-operateur.example,OU=00000000000002,O=AUTRE OPERATEUR,ST=Rhône (69),C=FR"
PLAIN = b"Subject: t\r\n\r\nBonjour.\r\n"
LISTED = "dr.national@autre-operateur.mssante.fr"
NATIONAL_ROW = (
    f"PER|{LISTED}|8|10000000778|810000000778|1|750000009|Cardiologie|DR|NATIONAL|Ana|C|Civil|10|Médecin"
    "|SM04|Cardiologie||CHU DE LYON||||3||QUAI|DES CÉLESTINS||69002 LYON|69002|69|FRANCE"
)
QUEUED = "250 2.0.0 Ok: queued as "
NOTED = "250 2.1.5 Recipient noted; outside the MSSante trust space, the message will be refused"
NO_VALID = "503 Error: need RCPT command"  # aiosmtpd, when every recipient was refused
OK = "250 2.1.5 Recipient OK"
SENDER_OK = "250 2.1.0 Sender OK"


@dataclass(frozen=True)
class Box:
    """A fresh mailbox of chu-demo (SaaS) made for one row; ``{box}`` in the row stands for it."""

    status: str = "active"
    quota: int | None = None
    used: int = 0


@dataclass(frozen=True)
class Row:
    """One way to meet a rule, and what the client must see."""

    rule: str
    recipients: list[str]
    rcpt: list[str]
    end: str
    mail: str = SENDER_OK
    tenant: dict[str, object] = field(default_factory=dict)
    """chu-demo's rules for this row (the sender's establishment and the mailboxes' in {box})."""
    box: Box | None = None
    mail_from: str = "dpi@chu-demo.mssante.fr"
    peer: bool = False
    """Sent on the peer listener with another operator's certificate, not at submission."""
    size: int | None = None
    message: bytes = PLAIN
    before: int = 0
    """Messages sent first, accepted, by the same sender (to use up a rate)."""
    audited: str = ""
    """Who audits the refusal: "policy" or "ingress" (empty: accepted, nothing to audit)."""


ROWS = [
    Row("recipient.accepted", [JEAN], [OK], QUEUED),
    Row(
        "recipient.unknown",
        ["nobody@chu-demo.mssante.fr"],
        ["550 5.1.1 No such mailbox here"],
        NO_VALID,
        audited="policy",
    ),
    Row("recipient.accepted", [JEAN], [OK], QUEUED, mail_from="", peer=True),  # another operator's report
    Row(
        "recipient.unknown",
        ["{box}"],
        ["550 5.1.1 No such mailbox here"],
        NO_VALID,
        box=Box(status="deleted"),
        audited="policy",
    ),
    Row(
        "recipient.applicative",
        ["sih@ch-exemple.mssante.fr"],
        ["550 5.7.1 Applicative mailboxes do not receive mail"],
        NO_VALID,
        audited="policy",
    ),
    Row(
        "recipient.suspended",
        ["{box}"],
        ["550 5.2.1 Mailbox disabled"],
        NO_VALID,
        box=Box(status="suspended"),
        audited="policy",
    ),
    Row(
        "recipient.suspended-temporary",
        ["{box}"],
        ["450 4.2.1 Mailbox temporarily disabled, try again later"],
        NO_VALID,
        box=Box(status="suspended"),
        tenant={"suspended_reply": "temporary"},
        audited="policy",
    ),
    Row(
        "recipient.outside",
        [JEAN, "someone@gmail.com"],
        [OK, "550 5.7.1 Recipient domain is outside the MSSante trust space"],
        QUEUED,
        tenant={"mixed_recipients": "deliver_valid"},
        audited="policy",
    ),
    Row(
        "message.mixed",
        [JEAN, "someone@gmail.com"],
        [OK, NOTED],
        "550 5.7.1 Message refused: recipients outside the MSSante trust space: <someone@gmail.com>",
        audited="ingress",
    ),
    Row(
        "recipient.not-national",
        ["dr.unlisted@autre-operateur.mssante.fr", LISTED],
        ["550 5.1.1 Recipient is not in the national directory (sender's establishment rule)", OK],
        QUEUED,
        tenant={"strict_national": True},
        audited="policy",
    ),
    Row(
        "recipient.relay",
        ["dr.x@autre-operateur.mssante.fr"],
        ["550 5.7.1 Relaying denied: recipient is not hosted here"],
        NO_VALID,
        mail_from="dr.y@autre-operateur.mssante.fr",
        peer=True,
        audited="policy",
    ),
    Row(
        "recipient.quota-full",
        ["{box}"],
        ["452 4.2.2 Mailbox <{box}> is full, try again later"],
        NO_VALID,
        box=Box(quota=1000, used=1000),
        audited="policy",
    ),
    Row(
        "recipient.quota-full",  # SIZE= over what is left: refused for now
        ["{box}"],
        ["452 4.2.2 Mailbox <{box}> is full, try again later"],
        NO_VALID,
        box=Box(quota=1000, used=900),
        size=200,
        audited="ingress",
    ),
    Row(
        "recipient.quota-full",  # no SIZE=: found at the end of DATA
        ["{box}"],
        [OK],
        "452 4.2.2 Mailbox <{box}> is full, try again later",
        box=Box(quota=1000, used=990),
        audited="ingress",
    ),
    Row(
        "recipient.quota-exceeded",
        ["{box}"],
        ["552 5.2.2 Message larger than the mailbox quota: 5000 bytes, the quota of <{box}> is 1000 bytes"],
        NO_VALID,
        box=Box(quota=1000),
        size=5000,
        audited="ingress",
    ),
    Row("recipient.accepted", ["{box}"], [OK], QUEUED, box=Box(quota=1000, used=500)),
    Row(
        "message.too-big",
        [JEAN],
        [OK],
        f"552 5.3.4 Message too big: {len(PLAIN) + 100} bytes,"
        " the limit of the sender's establishment is 100 bytes",
        tenant={"max_message_bytes": 100},
        message=PLAIN + b"x" * 98 + b"\r\n",
        audited="ingress",
    ),
    Row(
        "message.too-big",
        [JEAN],
        [],
        "",
        mail="552 5.3.4 Message too big: 5000 bytes, the limit of the sender's establishment is 100 bytes",
        tenant={"max_message_bytes": 100},
        size=5000,
    ),
    Row(
        "sender.not-authorised",
        [JEAN],
        [],
        "",
        mail=f"553 5.7.1 Not authorised to send as <{JEAN}>",
        mail_from=JEAN,
        audited="policy",
    ),
    Row(
        "sender.rate",
        [JEAN],
        [],
        "",
        mail="451 4.7.1 Too many messages from this sender, try again later",
        tenant={"rate_per_sender": 2},
        before=2,
        audited="policy",
    ),
    Row(
        "sender.outside",
        [JEAN],
        [],
        "",
        mail="550 5.7.1 Sender domain is outside the MSSante trust space",
        mail_from="someone@gmail.com",
        peer=True,
        audited="policy",
    ),
    Row(
        "sender.certificate-not-listed",
        [JEAN],
        [],
        "",
        mail="550 5.7.1 Client certificate is not listed for the sender's domain",
        mail_from="dr.y@ch-exemple.mssante.fr",
        peer=True,
        audited="policy",
    ),
    Row(
        "content.xdm-malformed",
        [JEAN],
        [OK],
        "554 5.6.0 Message refused: malformed IHE XDM archive"
        " (an entry expands more than 100 times (zip bomb))",
        tenant={"malformed_xdm": "refuse"},
        message=xdm_message(zip_bomb()),
        audited="ingress",
    ),
    Row(
        "content.accepted",  # the establishment only flags malformed archives (the default)
        [JEAN],
        [OK],
        QUEUED,
        message=xdm_message(zip_bomb()),
    ),
    Row(
        "content.accepted",  # the establishment refuses malformed archives; this one is well formed
        [JEAN],
        [OK],
        QUEUED,
        tenant={"malformed_xdm": "refuse"},
        message=xdm_message(xdm("1234567890123^^^&1.2.250.1.213.1.4.8&ISO")),
    ),
]

ELSEWHERE = {
    "sender.certificate-required": "tests/services/policy/test_senders.py",  # TLS refuses such a peer first
    "sender.authentication-required": "tests/integration/test_submission_auth.py",
    "directory.unavailable": "tests/integration/test_policy_directory.py",
    "storage.unavailable": "tests/integration/test_policy_directory.py",
    "content.unchecked": "tests/integration/test_content_unchecked.py",
    "content.malware": "tests/integration/test_malware_scan.py",
    "recipient.malformed": "tests/services/policy/test_verdicts.py",  # aiosmtpd refuses it before policy
}
"""Rules met outside this harness, and the test that checks each with its rule id."""

ROOT = Path(__file__).resolve().parents[2]


def test_every_rule_is_met_here_or_in_a_named_test() -> None:
    covered = {row.rule for row in ROWS} | set(ELSEWHERE)
    assert set(RULES) <= covered, sorted(set(RULES) - covered)
    for rule, test in ELSEWHERE.items():  # that test checks the rule's id or its exact reply
        text = (ROOT / test).read_text(encoding="utf-8")
        reply = "" if "{" in RULES[rule].text else RULES[rule].reply()  # no placeholder to fill
        assert f'"{rule}"' in text or (reply and reply in text), (rule, test)


def test_every_rule_is_documented_with_its_reply() -> None:
    documented = (ROOT / "docs" / "policy.md").read_text(encoding="utf-8")
    for rule in RULES.values():
        assert f"| `{rule.id}` | `{rule.code} {rule.enhanced}` |" in documented, rule.id


async def settle(bus: Any, database_url: str, address: str) -> None:
    """Wait until the directory answers with the registry's current version (bounded)."""
    conn = await asyncpg.connect(database_url)
    try:
        version = str(await conn.fetchval("SELECT version FROM directory_meta"))
    finally:
        await conn.close()
    for _ in range(200):
        reply = await bus.request(subjects.DIRECTORY_LOOKUP, encode(AddressLookupRequest(address=address)), 2)
        if decode(AddressLookupReply, reply.data).directory_version == version:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"directory did not reach version {version}")


async def prepare(dialogue: Any, row: Row, folder: Path) -> str:
    """chu-demo's rules, the row's mailbox and its usage; the mailbox's address ('' when none)."""
    for column, value in row.tenant.items():
        await dialogue.set_tenant("chu-demo", column, value)
    address = ""
    conn = await asyncpg.connect(dialogue.database_url)
    try:
        if row.box is not None:
            address = f"r-{uuid.uuid4().hex[:12]}@chu-demo.mssante.fr"
            await conn.execute(
                "INSERT INTO mailboxes (address, tenant_id, domain, type, status, quota_bytes)"
                " VALUES ($1, 'chu-demo', 'chu-demo.mssante.fr', 'PER', $2, $3)",
                address,
                row.box.status,
                row.box.quota,
            )
            if row.box.used:
                await conn.execute(
                    "INSERT INTO stored_messages (mailbox, message_id, tenant_id, mail_from, sha256,"
                    " size, content) VALUES ($1, 'earlier', 'chu-demo', 'a@b.fr', '', $2, '')",
                    address,
                    row.box.used,
                )
        if row.rule == "recipient.not-national":
            await national(dialogue.database_url, folder)
        await conn.execute("UPDATE directory_meta SET version = version + 1")
    finally:
        await conn.close()
    return address


async def national(database_url: str, folder: Path) -> None:
    """The national mirror lists LISTED."""
    extraction = folder / "Extraction_Correspondance_MSSante_202611290500.txt"
    extraction.write_text(f"{HEADER}\n{NATIONAL_ROW}\n", encoding="utf-8")
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        await import_extraction(pool, extraction)
    finally:
        await pool.close()


@pytest.fixture
def peer_certificate(dialogue: Any) -> Issued:
    """Another operator's certificate, as listed for autre-operateur.mssante.fr."""
    return dialogue.ca.issue("peer", PEER_DN)  # type: ignore[no-any-return]


@pytest.mark.parametrize("row", ROWS, ids=[f"{n:02}-{row.rule}" for n, row in enumerate(ROWS)])
async def test_rule(dialogue: Any, bus: Any, peer_certificate: Issued, row: Row, tmp_path: Path) -> None:
    box = await prepare(dialogue, row, tmp_path)
    await settle(bus, dialogue.database_url, JEAN)
    peer = peer_certificate if row.peer else None
    for _ in range(row.before):
        _, _, end = await dialogue.send([JEAN], row.message, mail_from=row.mail_from, peer=peer)
        assert end.startswith(QUEUED), end
    recipients = [r.format(box=box) for r in row.recipients]
    mail, rcpt, end = await dialogue.send(recipients, row.message, row.size, row.mail_from, peer)
    assert mail == row.mail
    assert rcpt == [r.format(box=box) for r in row.rcpt]
    expected_end = row.end.format(box=box)
    if expected_end == QUEUED:
        assert end.startswith(QUEUED), end
        queue_id = end.removeprefix(QUEUED)
        for _ in range(500):
            accepted = [e for e in dialogue.audit if e.message_id == queue_id]
            if accepted:
                break
            await asyncio.sleep(0.01)
        assert accepted, queue_id
        assert accepted[0].policy_version.startswith(f"{RULESET}/")
    else:
        assert end == expected_end
    if not row.audited:
        return
    events: list[AuditEvent] = dialogue.policy_audit if row.audited == "policy" else dialogue.audit
    for _ in range(500):
        found = [e for e in events if e.rule == row.rule]
        if found:
            break
        await asyncio.sleep(0.01)
    assert found, [e.rule for e in events]
    assert found[-1].policy_version.startswith(f"{RULESET}/")
    assert found[-1].reply in [end, mail, *rcpt]
