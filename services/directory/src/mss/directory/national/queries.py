"""Lookups in the national directory, always in the version in force.

Each query is one statement that reads the version in force and its entries under one snapshot, so
an import finishing meanwhile is seen entirely or not at all.

- :func:`national_entry`: the entry of an address (exact, case-insensitive).
- :func:`search`: completion search. The query is matched, in this order of rank, as an RPPS
  number (11 digits: exact), a name prefix ("last first" or just "last"; an organisation's name),
  the prefix of "first last" (an organisation's service), a profession label prefix, a city prefix.
  Case and accents are ignored. Within a rank, results come in key order (names alphabetically;
  for a profession or a city, by profession or city then name).
- :func:`version_in_force`: what is in force, for status displays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from mss.directory.national.entries import ENTRY_COLUMNS, NationalEntry
from mss.directory.national.keys import prefix_range, search_key

__all__ = ["NationalEntry", "VersionInfo", "national_entry", "search", "version_in_force"]

MAX_LIMIT = 100
_IN_FORCE = "version_id = (SELECT version_id FROM national_current)"
_COLUMNS = ", ".join(f"e.{c}" for c in ENTRY_COLUMNS)
_ENTRY = f"SELECT {_COLUMNS} FROM national_entries e WHERE e.{_IN_FORCE} AND e.address = $1"  # noqa: S608
_BY_RPPS = (
    f"SELECT {_COLUMNS} FROM national_entries e WHERE e.{_IN_FORCE} AND e.rpps = $1"  # noqa: S608
    " ORDER BY e.type, e.address LIMIT $2"
)
_BRANCHES = (
    # rank, key of the prefix range, order within the rank
    (1, "name_key", "name_key, address"),
    (2, "alt_key", "alt_key, address"),
    (3, "profession_key", "profession_key, name_key, address"),
    (4, "city_key", "city_key, name_key, address"),
)
_BRANCH = (
    "(SELECT {rank} AS rank, row_number() OVER (ORDER BY {order}) AS position, address FROM ("
    "SELECT {order} FROM national_entries WHERE {in_force} AND {key} >= $1 AND {key} < $2"
    " ORDER BY {order} LIMIT $3) b{rank})"
)
_HITS = " UNION ALL ".join(
    _BRANCH.format(rank=rank, order=order, key=key, in_force=_IN_FORCE) for rank, key, order in _BRANCHES
)
_BEST = "SELECT DISTINCT ON (address) rank, position, address FROM hits ORDER BY address, rank"
_SEARCH = (
    f"WITH hits AS ({_HITS}), best AS ({_BEST}) SELECT {_COLUMNS} FROM best b"  # noqa: S608
    f" JOIN national_entries e ON e.{_IN_FORCE} AND e.address = b.address"
    " ORDER BY b.rank, b.position LIMIT $3"
)


@dataclass(frozen=True)
class VersionInfo:
    """The version in force."""

    id: int
    source: str
    origin: str
    file_name: str
    file_date: datetime | None
    imported_at: datetime | None
    row_count: int
    fhir_cursor: datetime | None
    """Changes of the FHIR API up to this time are applied (None: never synced)."""


def _address(address: str) -> str:
    return address.strip().strip("<>").lower()


async def national_entry(pool: asyncpg.Pool, address: str) -> NationalEntry | None:
    """The national directory's entry for ``address`` (any case), or None when it has none."""
    row = await pool.fetchrow(_ENTRY, _address(address))
    return NationalEntry.from_row(row) if row is not None else None


async def search(pool: asyncpg.Pool, query: str, limit: int = 10) -> list[NationalEntry]:
    """Up to ``limit`` (at most 100) entries matching ``query``, best first (see the module doc).

    An 11-digit query is an RPPS number; any other query is a prefix of a name, a profession or a
    city, without regard to case or accents. An empty query finds nothing.
    """
    limit = max(0, min(limit, MAX_LIMIT))
    text = query.strip()
    if limit == 0:
        return []
    if len(text) == 11 and text.isdigit():
        rows = await pool.fetch(_BY_RPPS, text, limit)
    else:
        key = search_key(text)
        if not key:
            return []
        rows = await pool.fetch(_SEARCH, *prefix_range(key), limit)
    return [NationalEntry.from_row(r) for r in rows]


async def version_in_force(pool: asyncpg.Pool) -> VersionInfo | None:
    """The version in force and the FHIR sync cursor, or None when the mirror is empty."""
    row = await pool.fetchrow(
        "SELECT v.id, v.source, v.origin, v.file_name, v.file_date, v.imported_at, v.row_count,"
        " (SELECT cursor FROM national_sync WHERE source = 'fhir') AS fhir_cursor"
        " FROM national_current c JOIN national_versions v ON v.id = c.version_id"
    )
    return VersionInfo(**dict(row)) if row is not None else None
