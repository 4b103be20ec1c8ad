"""Create or update an account of the audit UI and API.

``python -m mss.tracing.account LOGIN --role auditor --ght GHT --tenant ESTABLISHMENT`` reads the
password from standard input (never the command line, where other users could see it);
``--generate`` makes a random one and prints it once. ``--disable`` ends the account's access and
its sessions. Each change is written to the access log under the operating system user's name.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import secrets
import sys

import asyncpg
from mss.core.errors import DataError
from mss.core.passwords import Cost, hash_password
from mss.tracing.access import log_access
from mss.tracing.accounts import ROLES
from mss.tracing.settings import TracingSettings

MIN_LENGTH = 12


async def put_account(
    pool: asyncpg.Pool, login: str, role: str, ght: str, tenant: str | None, password: str, cost: Cost
) -> None:
    """Create the account or change its role, scope and password; DataError when invalid."""
    login = login.strip().lower()
    if role not in ROLES:
        raise DataError(f"role is one of {', '.join(ROLES)}")
    if len(password) < MIN_LENGTH:
        raise DataError(f"a password needs at least {MIN_LENGTH} characters")
    hashed = await asyncio.to_thread(hash_password, password, cost)
    try:
        await pool.execute(
            "INSERT INTO audit_accounts (login, role, ght_id, tenant_id, password_hash)"
            " VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (login) DO UPDATE SET role = $2, ght_id = $3, tenant_id = $4, password_hash = $5,"
            " disabled = false",
            login,
            role,
            ght,
            tenant,
            hashed,
        )
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise DataError(f"cannot save {login}: {str(exc).splitlines()[0]}") from exc
    scope = f"establishment {tenant}" if tenant else f"GHT {ght}"
    await log_access(pool, getpass.getuser(), "account saved", f"{login}: {role} of {scope}", ght_id=ght)


async def disable_account(pool: asyncpg.Pool, login: str) -> None:
    """Disable the account and end its sessions; DataError when unknown."""
    async with pool.acquire() as conn, conn.transaction():
        ght = await conn.fetchval(
            "UPDATE audit_accounts SET disabled = true WHERE login = $1 RETURNING ght_id", login.lower()
        )
        if ght is None:
            raise DataError(f"no account {login}")
        await conn.execute("DELETE FROM audit_sessions WHERE login = $1", login.lower())
    await log_access(pool, getpass.getuser(), "account disabled", login.lower(), ght_id=ght)


async def _run(settings: TracingSettings, args: argparse.Namespace, password: str) -> None:
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
    assert pool is not None
    try:
        if args.disable:
            await disable_account(pool, args.login)
        else:
            cost = Cost(log2_n=settings.password_cost)
            await put_account(pool, args.login, args.role, args.ght, args.tenant, password, cost)
    finally:
        await pool.close()


def main() -> int:
    """``python -m mss.tracing.account LOGIN …``."""
    parser = argparse.ArgumentParser(prog="python -m mss.tracing.account")
    parser.add_argument("login")
    parser.add_argument("--role", choices=ROLES)
    parser.add_argument("--ght", help="the GHT of the account")
    parser.add_argument("--tenant", help="its establishment (auditor; support of one establishment)")
    parser.add_argument("--generate", action="store_true", help="make a random password and print it")
    parser.add_argument("--disable", action="store_true", help="end the account's access")
    args = parser.parse_args()
    if not args.disable and not (args.role and args.ght):
        parser.error("--role and --ght are needed")
    password = ""
    if not args.disable:
        password = secrets.token_urlsafe(18) if args.generate else sys.stdin.readline().rstrip("\r\n")
    try:
        asyncio.run(_run(TracingSettings(), args, password))
    except DataError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    if args.generate:
        print(f"{args.login} {password}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
