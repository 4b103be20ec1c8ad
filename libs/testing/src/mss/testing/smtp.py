"""SMTP helpers for tests that talk to a running ingress."""

from __future__ import annotations

import aiosmtplib


async def connect(port: int, helo: str = "smtp-1.autre-operateur.example") -> aiosmtplib.SMTP:
    """An SMTP client connected to 127.0.0.1:port, after EHLO."""
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, local_hostname=helo)
    await client.connect()
    await client.ehlo()
    return client


async def send(port: int, mail_from: str, recipients: list[str], content: bytes) -> str:
    """Send one message that every recipient accepts; return the queue id of the 250 reply."""
    client = await connect(port)
    try:
        refused, reply = await client.sendmail(mail_from, recipients, content)
    finally:
        await client.quit()
    assert refused == {}, refused
    assert reply.startswith("2.0.0 Ok: queued as "), reply
    return reply.rsplit(" ", 1)[1]
