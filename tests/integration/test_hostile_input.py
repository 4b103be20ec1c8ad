"""Hostile input in the SMTP dialogue: a clear refusal for each, no crash, the service goes on."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest
from mss.testing.smtp import client_tls

pytestmark = pytest.mark.integration

GOOD = "jean.martin@chu-demo.mssante.fr"


async def raw_session(dialogue: Any, lines: list[bytes]) -> list[str]:
    """STARTTLS with dpi@chu-demo's certificate, then ``lines`` one by one; every reply's last line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", dialogue.port)
    replies: list[str] = []

    async def reply() -> str:
        text = b""
        while text[3:4] != b" ":
            text = await asyncio.wait_for(reader.readline(), 10)
            if not text:
                return "closed"
        return text.decode("utf-8", "replace").strip()

    try:
        await reply()
        for line in (b"EHLO hostile.example", b"STARTTLS"):
            writer.write(line + b"\r\n")
            await reply()
        context: ssl.SSLContext = client_tls(dialogue.sender, dialogue.ca.ca_bundle_path)
        await writer.start_tls(context)
        writer.write(b"EHLO hostile.example\r\n")
        await reply()
        for line in lines:
            writer.write(line + b"\r\n")
            await writer.drain()
            replies.append(await reply())
    finally:
        writer.close()
    return replies


async def still_serving(dialogue: Any) -> None:
    _, _, end = await dialogue.send([GOOD])
    assert end.startswith("250 2.0.0"), end


async def test_a_thousand_recipients_are_capped_with_452(dialogue: Any, until: Any) -> None:
    recipients = [f"dr.{n}@autre-operateur.mssante.fr" for n in range(1000)]
    _, rcpt, end = await dialogue.send(recipients)
    assert rcpt[:100] == ["250 2.1.5 Recipient OK"] * 100
    assert set(rcpt[100:]) == {"452 4.5.3 Too many recipients"}
    assert end.startswith("250 2.0.0")
    await until(dialogue.received, 1)
    assert len(dialogue.received[-1].recipients) == 100


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"RCPT TO:<no-at-sign>", "553"),
        (b"RCPT TO:<a@b@autre-operateur.mssante.fr>", "5"),
        (b"RCPT TO:<jean.martin@chu-demo.mssante.fr>\rX-Injected: yes", "5"),
        (b"RCPT TO:<jean.martin@chu-demo.mssante.fr> NOTIFY=\xff\xfe", "5"),
        (b"RCPT TO:<" + b"x" * 2000 + b"@autre-operateur.mssante.fr>", "5"),
        (b"RCPT TO:<\xc3\xa9l\xc3\xa8ve@autre-operateur.mssante.fr>", "2"),  # UTF-8 local part: SMTPUTF8
    ],
)
async def test_malformed_and_injected_addresses_get_a_clear_reply(
    dialogue: Any, line: bytes, code: str
) -> None:
    replies = await raw_session(dialogue, [b"MAIL FROM:<dpi@chu-demo.mssante.fr>", line])
    assert replies[0].startswith("250")
    assert replies[1].startswith(code), replies[1]
    await still_serving(dialogue)


async def test_non_utf8_headers_are_accepted_and_summarised_without_harm(dialogue: Any, until: Any) -> None:
    body = b"Subject: \xff\xfe bad \xc3\r\nX-MSS-INS: \x80\r\nFrom: <dpi@chu-demo.mssante.fr>\r\n\r\n\xe9\r\n"
    _, _, end = await dialogue.send([GOOD], body)
    assert end.startswith("250 2.0.0"), end
    await until(dialogue.received, 1)
    assert "X-MSS-INS" in dialogue.received[-1].mss_headers
    await still_serving(dialogue)
