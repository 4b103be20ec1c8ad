"""An establishment's recipient rules over real SMTP: suspended mailboxes refused temporarily or
permanently, and the strict rule that only nationally listed addresses of other operators pass."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from mss.directory.national.extraction import HEADER
from mss.directory.national.importer import import_extraction

pytestmark = pytest.mark.integration

CLAIRE = "claire.durand@ch-exemple.mssante.fr"
LISTED = "dr.listed@autre-operateur.mssante.fr"
UNLISTED = "dr.unlisted@autre-operateur.mssante.fr"
ROW = (
    f"PER|{LISTED}|8|10000000777|810000000777|1|750000009|Cardiologie|DR|LISTED|Ana|C|Civil|10|Médecin"
    "|SM04|Cardiologie||CHU DE LYON||||3||QUAI|DES CÉLESTINS||69002 LYON|69002|69|FRANCE"
)


async def rcpt_reply(dialogue: Any, recipient: str, expected: str) -> str:
    """The RCPT reply once the registry change has reached policy (bounded)."""
    for _ in range(100):
        _, rcpt, _ = await dialogue.send([recipient])
        if rcpt[0].startswith(expected):
            break
        await asyncio.sleep(0.05)
    return str(rcpt[0])


async def test_a_suspended_mailbox_is_refused_as_its_establishment_chose(dialogue: Any) -> None:
    conn = await asyncpg.connect(dialogue.database_url)
    try:
        await conn.execute("UPDATE mailboxes SET status = 'suspended' WHERE address = $1", CLAIRE)
        await dialogue.set_tenant("ch-exemple", "suspended_reply", "permanent")
        assert await rcpt_reply(dialogue, CLAIRE, "550") == "550 5.2.1 Mailbox disabled"
        await dialogue.set_tenant("ch-exemple", "suspended_reply", "temporary")
        reply = await rcpt_reply(dialogue, CLAIRE, "450")
        assert reply == "450 4.2.1 Mailbox temporarily disabled, try again later"
    finally:
        await conn.execute("UPDATE mailboxes SET status = 'active' WHERE address = $1", CLAIRE)
        await conn.execute("UPDATE directory_meta SET version = version + 1")
        await conn.close()


async def test_under_the_strict_rule_only_nationally_listed_addresses_of_other_operators_pass(
    dialogue: Any, tmp_path: Path
) -> None:
    extraction = tmp_path / "Extraction_Correspondance_MSSante_202611290400.txt"
    extraction.write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    pool = await asyncpg.create_pool(dialogue.database_url, min_size=1, max_size=2)
    try:
        await import_extraction(pool, extraction)
    finally:
        await pool.close()
    assert (await rcpt_reply(dialogue, UNLISTED, "250")).startswith("250")  # the domain is listed
    await dialogue.set_tenant("chu-demo", "strict_national", True)
    reply = await rcpt_reply(dialogue, UNLISTED, "550")
    assert reply == "550 5.1.1 Recipient is not in the national directory (sender's establishment rule)"
    assert (await rcpt_reply(dialogue, LISTED, "250")).startswith("250 2.1.5")
    assert (await rcpt_reply(dialogue, "jean.martin@chu-demo.mssante.fr", "250")).startswith("250")  # ours
