"""Versions of the national directory: one partition of ``national_entries`` each, one in force.

A version's entries are loaded into a table of their own (:func:`create_table`), indexed like the
partitions (:func:`index_table`), then attached and put in force in one transaction
(:func:`put_in_force`). Lookups always filter on the version in force within one statement, so they
see the previous version or the new one entirely. Retired versions' tables are then detached
(``CONCURRENTLY``: lookups are never blocked) and dropped (:func:`drop_retired`).

Imports and the creation of versions are serialised by a session advisory lock (:func:`import_lock`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from mss.core.errors import ConflictError
from mss.db.pool import Conn

log = logging.getLogger(__name__)

IMPORT_LOCK = 0x6D73736E  # "mssn": one import (or version creation) at a time
_INDEXES = (
    "ALTER TABLE {t} ADD CONSTRAINT {t}_pkey PRIMARY KEY (version_id, address)",
    "CREATE INDEX {t}_by_name ON {t} (name_key, address)",
    "CREATE INDEX {t}_by_alt ON {t} (alt_key, address)",
    "CREATE INDEX {t}_by_rpps ON {t} (rpps) WHERE rpps IS NOT NULL",
    "CREATE INDEX {t}_by_profession ON {t} (profession_key, name_key, address)",
    "CREATE INDEX {t}_by_city ON {t} (city_key, name_key, address)",
)
_ANALYZED = "version_id, address, rpps, name_key, alt_key, profession_key, city_key"
"""Columns searched: their statistics are all the planner needs."""
"""The indexes of ``national_entries`` (migration 0005), built on a version's table before it is attached."""


def table_name(version_id: int) -> str:
    """The table (partition) of a version's entries."""
    return f"national_entries_v{int(version_id)}"


@asynccontextmanager
async def import_lock(conn: Conn, wait: bool = False) -> AsyncIterator[None]:
    """Hold the import lock for the block; ConflictError when another import holds it (unless ``wait``)."""
    if wait:
        await conn.execute("SELECT pg_advisory_lock($1)", IMPORT_LOCK)
    elif not await conn.fetchval("SELECT pg_try_advisory_lock($1)", IMPORT_LOCK):
        raise ConflictError("another import of the national directory is running")
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", IMPORT_LOCK)


async def current_version(conn: Conn) -> int | None:
    """The version in force (None: the mirror is empty)."""
    version: int | None = await conn.fetchval("SELECT version_id FROM national_current")
    return version


async def abandon_loading(conn: Conn) -> list[int]:
    """Drop what interrupted imports left (under the import lock); their versions become failed."""
    stale = [
        r["id"]
        for r in await conn.fetch("SELECT id FROM national_versions WHERE status = 'loading' ORDER BY id")
    ]
    for version_id in stale:
        await fail(conn, version_id, "interrupted")
    return stale


async def create_version(
    conn: Conn, source: str, origin: str = "", file_name: str = "", file_date: datetime | None = None
) -> int:
    """A new version in the loading state, with its empty table."""
    version_id: int = await conn.fetchval(
        "INSERT INTO national_versions (source, origin, file_name, file_date)"
        " VALUES ($1, $2, $3, $4) RETURNING id",
        source,
        origin,
        file_name,
        file_date,
    )
    table = table_name(version_id)
    await conn.execute(
        f"CREATE TABLE {table} (LIKE national_entries INCLUDING DEFAULTS INCLUDING CONSTRAINTS);"
        f"ALTER TABLE {table} ADD CONSTRAINT {table}_version CHECK (version_id = {version_id})"
    )
    return version_id


async def index_table(conn: Conn, version_id: int) -> None:
    """Build the indexes of a loaded version's table, and its statistics."""
    table = table_name(version_id)
    for statement in _INDEXES:
        await conn.execute(statement.format(t=table))
    await conn.execute(f"ANALYZE {table} ({_ANALYZED})")


async def put_in_force(
    conn: Conn,
    version_id: int,
    *,
    row_count: int = 0,
    rows_read: int = 0,
    invalid: int = 0,
    duplicates: int = 0,
) -> None:
    """Attach the version's table and make it the version in force, in one transaction.

    The FHIR sync cursor goes back to the version's file date (when older), so that changes made
    since the file was generated are asked again.
    """
    table = table_name(version_id)
    async with conn.transaction():
        await conn.execute(
            f"ALTER TABLE national_entries ATTACH PARTITION {table} FOR VALUES IN ({version_id})"
        )
        await conn.execute("UPDATE national_versions SET status = 'retired' WHERE status = 'active'")
        file_date = await conn.fetchval(
            "UPDATE national_versions SET status = 'active', imported_at = now(), rows_read = $2,"
            " invalid_rows = $3, duplicates = $4, row_count = $5"
            " WHERE id = $1 RETURNING coalesce(file_date, started_at)",
            version_id,
            rows_read,
            invalid,
            duplicates,
            row_count,
        )
        await conn.execute("UPDATE national_current SET version_id = $1", version_id)
        await conn.execute(
            "UPDATE national_sync SET cursor = least(cursor, $1) WHERE source = 'fhir'", file_date
        )
    log.info("national directory version in force", extra={"version": version_id})


async def fail(conn: Conn, version_id: int, detail: str) -> None:
    """Mark a version that never came in force as failed and drop its table."""
    await conn.execute(f"DROP TABLE IF EXISTS {table_name(version_id)}")
    await conn.execute(
        "UPDATE national_versions SET status = 'failed', detail = $2 WHERE id = $1 AND status = 'loading'",
        version_id,
        detail[:2000],
    )


async def drop_retired(conn: Conn) -> list[int]:
    """Detach and drop the tables of the versions no longer in force; their ids."""
    retired = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM national_versions WHERE status = 'retired' AND to_regclass($1 || id) IS NOT NULL",
            "national_entries_v",
        )
    ]
    for version_id in retired:
        table = table_name(version_id)
        pending = await conn.fetchval(
            "SELECT i.inhdetachpending FROM pg_inherits i WHERE i.inhrelid = to_regclass($1)", table
        )
        if pending is not None:  # still a partition (pending: an earlier detach was interrupted)
            mode = "FINALIZE" if pending else "CONCURRENTLY"
            await conn.execute(f"ALTER TABLE national_entries DETACH PARTITION {table} {mode}")
        await conn.execute(f"DROP TABLE {table}")
    return retired
