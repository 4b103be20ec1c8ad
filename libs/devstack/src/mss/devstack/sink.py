"""A demo mail server that accepts everything and keeps each message as a file.

``task up`` runs two of them in place of an establishment's Exchange (proxy mode) and of another
operator, so relayed mail can be looked at in ``.mss/mail/<port>/``. Tests use it as the next hop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from mss.core.tls import TlsFiles, server_context


class FileSink:
    """aiosmtpd handler writing ``<n>.eml`` (exact bytes) and ``<n>.json`` (envelope)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.count = len(list(folder.glob("*.eml")))

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Keep the message."""
        self.count += 1
        stem = self.folder / f"{self.count:06d}"
        content = envelope.original_content or b""
        stem.with_suffix(".eml").write_bytes(content)
        meta: dict[str, Any] = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}
        stem.with_suffix(".json").write_text(json.dumps(meta))
        return f"250 2.0.0 Ok: kept as {stem.name}"


async def serve(folder: Path, host: str, port: int, tls: ssl.SSLContext | None = None) -> asyncio.Server:
    """Start a sink on host:port writing into ``folder``; with ``tls``, STARTTLS is required."""
    handler = FileSink(folder)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(
            handler,
            decode_data=False,
            hostname="sink",
            enable_SMTPUTF8=True,
            tls_context=tls,
            require_starttls=tls is not None,
        ),
        host,
        port,
    )


async def _main(folder: Path, host: str, port: int, tls: ssl.SSLContext | None) -> None:
    server = await serve(folder, host, port, tls)
    async with server:
        await server.serve_forever()


def starttls_only(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context presenting ``cert`` and asking no client certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def main() -> None:
    """``python -m mss.devstack.sink --port P --folder DIR``."""
    parser = argparse.ArgumentParser(prog="python -m mss.devstack.sink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--tls-cert", type=Path, help="certificate chain: require STARTTLS")
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument(
        "--tls-ca", type=Path, help="CA bundle client certificates must chain to (unset: none asked)"
    )
    args = parser.parse_args()
    tls = None
    if args.tls_cert and args.tls_ca:  # another operator: mutual TLS
        files = TlsFiles(cert=args.tls_cert, key=args.tls_key, ca=args.tls_ca)
        tls = server_context(files, require_client_cert=True)
    elif args.tls_cert:  # an establishment's server: STARTTLS, no client certificate asked
        tls = starttls_only(args.tls_cert, args.tls_key)
    asyncio.run(_main(args.folder, args.host, args.port, tls))


if __name__ == "__main__":
    main()
