"""How every component connects to NATS: over TLS, the server's certificate checked against the
installation's CA, signed in with the component's own nkey, replies on its own inbox."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from faststream.nats.security import NatsNKey, NatsSecurity
from mss.bus.identities import inbox_prefix
from nats.aio.client import Client as NATS


def client_tls(ca_file: Path) -> ssl.SSLContext:
    """A client context that trusts only ``ca_file`` and checks the server's name (TLS 1.2 at least)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def client_options(identity: str, credentials_file: Path | None, ca_file: Path | None) -> dict[str, Any]:
    """Keyword arguments of ``nats.connect`` for ``identity`` (FastStream: :func:`broker_options`).

    Without a CA file the system's trusted roots check the server; without credentials the client
    connects anonymously, which an mss server refuses.
    """
    options: dict[str, Any] = {"inbox_prefix": inbox_prefix(identity)}
    if credentials_file is not None:
        options["nkeys_seed"] = str(credentials_file)
    if ca_file is not None:
        options["tls"] = client_tls(ca_file)
    return options


def broker_options(identity: str, credentials_file: Path | None, ca_file: Path | None) -> dict[str, Any]:
    """The same as :func:`client_options`, in the form FastStream's ``NatsBroker`` takes."""
    tls = client_tls(ca_file) if ca_file is not None else None
    security: NatsSecurity | None = None
    if credentials_file is not None:
        security = NatsNKey(credentials_file, ssl_context=tls, use_ssl=tls is not None)
    elif tls is not None:
        security = NatsSecurity(ssl_context=tls, use_ssl=True)
    return {"inbox_prefix": inbox_prefix(identity), "security": security}


def without_secrets(urls: str) -> str:
    """NATS URL(s) as they may be logged: any user name and password removed."""
    cleaned = []
    for url in urls.split(","):
        parts = urlsplit(url.strip())
        cleaned.append(parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl())
    return ",".join(cleaned)


async def settled(connection: NATS, timeout: float = 10.0) -> None:
    """Return once the server has processed everything this client sent before the call.

    nats-py's ``flush()`` writes its PING straight to the socket, ahead of commands still waiting in
    the client's buffer (over TLS they often are), so its PONG does not prove that the subscriptions
    made just before reached the server. A message to ourselves goes through that same buffer,
    behind them: once it comes back, they are in place. (Each identity may publish to its own inbox.)
    """
    inbox = connection.new_inbox()
    echo = await connection.subscribe(inbox, max_msgs=1)
    await connection.publish(inbox, b"")
    await echo.next_msg(timeout=timeout)
