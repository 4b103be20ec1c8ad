"""Who may read the audit store: accounts with a role, signed in by password (scrypt) into sessions
whose token only the client holds (the store keeps its SHA-256).

Roles: ``ght_admin`` sees every establishment of its GHT and the access log; ``auditor`` (the
establishment's data protection officer) sees its establishment; ``support`` sees metadata only,
for its GHT or its establishment. An account may also be bound to an OpenID Connect identity
(``issuer``, ``subject``): :func:`viewer_of` is the one place that turns an account into a Viewer,
whatever proved the identity.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from mss.core.passwords import Cost, decoy, verify_password

ROLES = ("ght_admin", "auditor", "support")


@dataclass(frozen=True)
class Viewer:
    """A signed-in account and what it may see."""

    login: str
    role: str
    ght_id: str
    tenants: tuple[str, ...]
    """The establishments whose messages it sees."""

    @property
    def sees_content(self) -> bool:
        """Patients (keyed hashes) and content inspection results; support sees neither."""
        return self.role != "support"

    @property
    def may_export(self) -> bool:
        """Audit request exports are for administrators and data protection officers."""
        return self.role in ("ght_admin", "auditor")

    @property
    def sees_access_log(self) -> bool:
        """The log of who searched, viewed or exported what."""
        return self.role == "ght_admin"


async def viewer_of(conn: asyncpg.Connection | asyncpg.Pool, login: str) -> Viewer | None:
    """The Viewer of an enabled account (None if unknown or disabled)."""
    account = await conn.fetchrow(
        "SELECT login, role, ght_id, tenant_id FROM audit_accounts WHERE login = $1 AND NOT disabled", login
    )
    if account is None:
        return None
    if account["tenant_id"] is not None:
        tenants = (account["tenant_id"],)
    else:
        rows = await conn.fetch("SELECT id FROM tenants WHERE ght_id = $1 ORDER BY id", account["ght_id"])
        tenants = tuple(r["id"] for r in rows)
    return Viewer(account["login"], account["role"], account["ght_id"], tenants)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    """Sign-in and session lookup."""

    def __init__(self, pool: asyncpg.Pool, lifetime: timedelta, cost: Cost) -> None:
        self.pool = pool
        self.lifetime = lifetime
        self.cost = cost

    async def sign_in(self, login: str, password: str) -> tuple[str, Viewer] | None:
        """A new session token and its Viewer, or None (unknown login, wrong password, disabled).
        Every refusal costs one hash verification, so timing does not tell which."""
        login = login.strip().lower()
        stored = await self.pool.fetchval(
            "SELECT password_hash FROM audit_accounts WHERE login = $1 AND NOT disabled", login
        )
        matches = await asyncio.to_thread(verify_password, stored or decoy(self.cost), password.encode())
        if stored is None or not matches:
            return None
        viewer = await viewer_of(self.pool, login)
        if viewer is None:
            return None
        token = secrets.token_urlsafe(32)
        await self.pool.execute(
            "INSERT INTO audit_sessions (token_hash, login, expires_at) VALUES ($1, $2, now() + $3)",
            _digest(token),
            login,
            self.lifetime,
        )
        return token, viewer

    async def viewer(self, token: str) -> Viewer | None:
        """The Viewer of a live session (None if unknown, expired, or its account disabled)."""
        login = await self.pool.fetchval(
            "SELECT login FROM audit_sessions WHERE token_hash = $1 AND expires_at > now()", _digest(token)
        )
        return None if login is None else await viewer_of(self.pool, login)

    async def sign_out(self, token: str) -> None:
        """End a session."""
        await self.pool.execute("DELETE FROM audit_sessions WHERE token_hash = $1", _digest(token))
