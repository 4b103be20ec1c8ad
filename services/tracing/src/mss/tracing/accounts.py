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


_VIEWER = """
SELECT a.login, a.role, a.ght_id,
    CASE WHEN a.tenant_id IS NOT NULL THEN ARRAY[a.tenant_id]
        ELSE ARRAY(SELECT t.id FROM tenants t WHERE t.ght_id = a.ght_id ORDER BY t.id) END AS tenants
FROM audit_accounts a
"""
"""An account and the establishments it sees (its own, or every one of its GHT), in one query."""


def _viewer(row: asyncpg.Record | None) -> Viewer | None:
    return None if row is None else Viewer(row["login"], row["role"], row["ght_id"], tuple(row["tenants"]))


async def viewer_of(conn: asyncpg.Connection | asyncpg.Pool, login: str) -> Viewer | None:
    """The Viewer of an enabled account (None if unknown or disabled)."""
    return _viewer(await conn.fetchrow(_VIEWER + " WHERE a.login = $1 AND NOT a.disabled", login))


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
        """The Viewer of a live session (None if unknown, expired, or its account disabled): one query,
        asked at every request."""
        return _viewer(
            await self.pool.fetchrow(
                _VIEWER + " JOIN audit_sessions s ON s.login = a.login"
                " WHERE s.token_hash = $1 AND s.expires_at > now() AND NOT a.disabled",
                _digest(token),
            )
        )

    async def sign_out(self, token: str) -> None:
        """End a session."""
        await self.pool.execute("DELETE FROM audit_sessions WHERE token_hash = $1", _digest(token))
