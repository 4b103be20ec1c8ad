"""SMTP helpers for tests that talk to a running ingress (STARTTLS with a client certificate)."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiosmtplib
from mss.core.tls import TlsFiles, client_context
from mss.devstack.pki import Issued


def client_tls(identity: Issued | None, ca: Path) -> ssl.SSLContext:
    """A client context presenting ``identity`` (or no certificate) and trusting ``ca``."""
    if identity is None:
        return client_context(TlsFiles(ca=ca))
    return client_context(TlsFiles(cert=identity.chain_path, key=identity.key_path, ca=ca))


async def connect(
    port: int, tls: ssl.SSLContext | None, helo: str = "smtp-1.autre-operateur.example"
) -> aiosmtplib.SMTP:
    """An SMTP client connected to 127.0.0.1:port, after EHLO (and STARTTLS when ``tls`` is given)."""
    client = aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=port,
        local_hostname=helo,
        start_tls=tls is not None,
        tls_context=tls,
    )
    await client.connect()
    await client.ehlo()
    return client


async def send(port: int, tls: ssl.SSLContext, mail_from: str, recipients: list[str], content: bytes) -> str:
    """Send one message that every recipient accepts; return the queue id of the 250 reply."""
    client = await connect(port, tls)
    try:
        refused, reply = await client.sendmail(mail_from, recipients, content)
    finally:
        await client.quit()
    assert refused == {}, refused
    assert reply.startswith("2.0.0 Ok: queued as "), reply
    return reply.rsplit(" ", 1)[1]
