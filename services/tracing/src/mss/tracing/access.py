"""The access log: who signed in, searched, viewed or exported what, and with what outcome. It is
append-only (a trigger refuses changes) and shown to the GHT's administrators."""

from __future__ import annotations

from typing import Any

import asyncpg
from mss.tracing.accounts import Viewer


async def log_access(
    pool: asyncpg.Pool,
    login: str,
    action: str,
    target: str,
    *,
    viewer: Viewer | None = None,
    ght_id: str = "",
    outcome: str = "ok",
    peer: str = "",
) -> None:
    """Record one action (``target``: what was asked, never a password or token)."""
    await pool.execute(
        "INSERT INTO audit_access_log (login, role, ght_id, action, target, outcome, peer)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        login,
        viewer.role if viewer else "",
        viewer.ght_id if viewer else ght_id,
        action,
        target[:2000],
        outcome,
        peer,
    )


async def access_log(pool: asyncpg.Pool, viewer: Viewer, limit: int, before: int | None) -> dict[str, Any]:
    """A page of the log of the viewer's GHT, newest first (accounts of other GHTs are not in it;
    failed sign-ins of unknown logins have no GHT and are shown to every GHT administrator)."""
    rows = await pool.fetch(
        "SELECT seq, at, login, role, action, target, outcome, peer FROM audit_access_log"
        " WHERE (ght_id = $1 OR ght_id = '') AND ($2::bigint IS NULL OR seq < $2)"
        " ORDER BY seq DESC LIMIT $3",
        viewer.ght_id,
        before,
        limit,
    )
    entries = [{**dict(r), "at": r["at"].isoformat()} for r in rows]
    return {"entries": entries, "next": str(rows[-1]["seq"]) if len(rows) == limit else ""}
