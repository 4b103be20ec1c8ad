"""Set the password of a personal or organisational mailbox (stored as a slow salted hash).

``python -m mss.directory.password ADDRESS...`` reads one password per address, a line each, from
standard input (never from the command line, where other users could see it); ``--generate``
makes random ones and prints them once, ``ADDRESS PASSWORD`` per line.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys

import asyncpg
from mss.core.errors import DataError
from mss.core.passwords import Cost, hash_password
from mss.directory.settings import DirectorySettings

MIN_LENGTH = 12


async def set_password(conn: asyncpg.Connection, address: str, password: str, cost: Cost) -> None:
    """Store a new hash for ``address``; DataError when the mailbox cannot have a password."""
    address = address.strip().lower()
    if len(password) < MIN_LENGTH:
        raise DataError(f"a password needs at least {MIN_LENGTH} characters")
    kind = await conn.fetchval("SELECT type FROM mailboxes WHERE address = $1", address)
    if kind is None:
        raise DataError(f"no mailbox {address}")
    if kind == "APP":
        raise DataError(f"{address} is an applicative mailbox: it authenticates by certificate")
    hashed = await asyncio.to_thread(hash_password, password, cost)
    await conn.execute(
        "INSERT INTO mailbox_credentials (address, password_hash) VALUES ($1, $2)"
        " ON CONFLICT (address) DO UPDATE SET password_hash = $2, updated_at = now()",
        address,
        hashed,
    )


async def _run(settings: DirectorySettings, passwords: dict[str, str]) -> None:
    conn = await asyncpg.connect(settings.database_url)
    try:
        async with conn.transaction():  # all or nothing
            for address, password in passwords.items():
                await set_password(conn, address, password, Cost(log2_n=settings.password_cost))
    finally:
        await conn.close()


def main() -> int:
    """``python -m mss.directory.password ADDRESS... [--generate]``."""
    parser = argparse.ArgumentParser(prog="python -m mss.directory.password")
    parser.add_argument("addresses", nargs="+", metavar="ADDRESS")
    parser.add_argument("--generate", action="store_true", help="make random passwords and print them")
    args = parser.parse_args()
    passwords = {
        address: secrets.token_urlsafe(18) if args.generate else sys.stdin.readline().rstrip("\r\n")
        for address in args.addresses
    }
    try:
        asyncio.run(_run(DirectorySettings(), passwords))
    except DataError as exc:
        print(exc, file=sys.stderr)
        return 2
    for address, password in passwords.items():
        print(f"{address} {password}" if args.generate else f"password set for {address}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
