"""The SMTP DSN extension at ingress, over a real session: advertised, parameters carried to the
accepted message with their case, malformed ones refused."""

from __future__ import annotations

from typing import Any

import aiosmtplib
import pytest
from mss.testing.smtp import client_tls

pytestmark = pytest.mark.integration

SENDER = "dpi@chu-demo.mssante.fr"
JEAN = "jean.martin@chu-demo.mssante.fr"
CLAIRE = "claire.durand@ch-exemple.mssante.fr"


async def command(client: aiosmtplib.SMTP, verb: bytes, arg: str) -> str:
    reply = await client.execute_command(verb, arg.encode())
    return f"{reply.code} {reply.message}"


async def test_dsn_parameters_travel_with_the_message(dialogue: Any, until: Any) -> None:
    client = aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=dialogue.port,
        start_tls=True,
        tls_context=client_tls(dialogue.sender, dialogue.ca.ca_bundle_path),
    )
    await client.connect()
    try:
        await client.ehlo()
        assert client.supports_extension("dsn")
        assert (await command(client, b"MAIL", f"FROM:<{SENDER}> RET=FULL ENVID=DPI+2B2026-7")).startswith(
            "250"
        )
        assert (await command(client, b"RCPT", f"TO:<{JEAN}> NOTIFY=SOMETIMES")).startswith("501 5.5.4")
        assert (
            await command(
                client,
                b"RCPT",
                f"TO:<{JEAN}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Jean.Martin@CHU-Demo.mssante.fr",
            )
        ).startswith("250")
        assert (await command(client, b"RCPT", f"TO:<{CLAIRE}>")).startswith("250")
        reply = await client.data(b"Subject: t\r\n\r\nBonjour.\r\n")
        assert reply.code == 250
        assert (await command(client, b"MAIL", f"FROM:<{SENDER}> RET=SOME")).startswith("501 5.5.4")
    finally:
        await client.quit()
    await until(dialogue.received, 1)
    (event,) = dialogue.received
    assert (event.dsn.ret, event.dsn.envid) == ("FULL", "DPI+2026-7")
    jean, claire = event.recipients
    assert (jean.notify, jean.orcpt) == ("SUCCESS,FAILURE", "rfc822;Jean.Martin@CHU-Demo.mssante.fr")
    assert (claire.notify, claire.orcpt) == ("", "")
