"""Incremental sync from the Annuaire Santé FHIR API (R-DIR-1) into the version in force.

For each of Practitioner, PractitionerRole and Organization: ``GET <base>/<Resource>?_lastUpdated=
ge<since>&_count=50`` with the ``ESANTE-API-KEY`` header, then each ``next`` link of the Bundle (only
on the base URL's origin: the key is never sent elsewhere). The MSSanté mailboxes of each page
(:mod:`.fhir_mailboxes`) are upserted into the version in force, in one transaction per page that
holds the version pointer, so an import cannot switch versions in the middle of a page.

``since`` defaults to the stored cursor, else the date of the version in force's file. When the
whole run succeeds the cursor becomes the time the run started, unless an import put a new version
in force meanwhile (its switch set the cursor back to its file's date, so the changes since are
asked again). The API does not say which mailboxes were removed: removals come with the next file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
from mss.core.errors import ConfigError, DataError, UnavailableError
from mss.db.pool import Conn
from mss.directory.national import versions
from mss.directory.national.entries import COPY_COLUMNS, EntryData, record
from mss.directory.national.fhir_mailboxes import DEFAULT_TYPES, RESOURCES, mailboxes, merge

log = logging.getLogger(__name__)

API_KEY_HEADER = "ESANTE-API-KEY"
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
MAX_PAGES = 100_000
_COLUMNS = ", ".join(COPY_COLUMNS)
_VALUES = ", ".join(f"${n}" for n in range(1, len(COPY_COLUMNS) + 1))
_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in COPY_COLUMNS if c not in ("version_id", "address"))
_UPSERT = (
    f"INSERT INTO national_entries ({_COLUMNS}) VALUES ({_VALUES})"  # noqa: S608
    f" ON CONFLICT (version_id, address) DO UPDATE SET {_UPDATES}"
)
_FIELDS = ", ".join(EntryData._fields)
_KNOWN = f"SELECT {_FIELDS} FROM national_entries WHERE version_id = $1 AND address = ANY($2)"  # noqa: S608


@dataclass
class SyncReport:
    """One sync run."""

    since: datetime
    until: datetime
    """The run's start: the next cursor."""
    pages: int = 0
    resources: int = 0
    mailboxes: int = 0
    inserted: int = 0
    updated: int = 0
    version_id: int = 0
    """The version in force when the run started."""
    cursor_advanced: bool = False
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """The report, for people."""
        cursor = (
            f"cursor now {self.until:%Y-%m-%dT%H:%M:%SZ}" if self.cursor_advanced else "cursor not advanced"
        )
        return [
            f"FHIR changes since {self.since:%Y-%m-%dT%H:%M:%SZ}: {self.pages} pages,"
            f" {self.resources} resources, {self.mailboxes} mailboxes ({self.inserted} new,"
            f" {self.updated} updated), version {self.version_id}, {self.seconds:.1f} s; {cursor}"
        ]


def _fhir_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FhirClient:
    """Reads search pages of the Annuaire Santé FHIR API."""

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, api_key: str, page_size: int = 50
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
            raise ConfigError(f"the FHIR API URL must be https (http only on loopback): {base_url}")
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.origin = urlsplit(self.base_url)[:2]
        self.headers = {API_KEY_HEADER: api_key, "Accept": "application/fhir+json"}
        self.page_size = page_size

    async def _get(self, url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            async with self.session.get(url, params=params, headers=self.headers) as response:
                if response.status in (401, 403):
                    raise ConfigError(f"the FHIR API refused the key ({response.status}): check fhir_api_key")
                if response.status != 200:
                    raise UnavailableError(f"the FHIR API answered {response.status} to {url}")
                bundle = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UnavailableError(f"the FHIR API did not answer: {exc or type(exc).__name__}") from None
        except ValueError as exc:
            raise DataError(f"the FHIR API sent something else than JSON: {exc}") from None
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise DataError(f"the FHIR API sent something else than a Bundle for {url}")
        return bundle

    def _next(self, bundle: dict[str, Any]) -> str | None:
        found = bundle.get("link")
        links: list[Any] = found if isinstance(found, list) else []
        url = next(
            (link.get("url") for link in links if isinstance(link, dict) and link.get("relation") == "next"),
            None,
        )
        if not isinstance(url, str) or not url:
            return None
        if urlsplit(url)[:2] != self.origin:
            raise DataError(f"the FHIR API's next link leaves {self.base_url}: {url}")
        return url

    async def pages(self, resource: str, since: datetime) -> AsyncIterator[list[dict[str, Any]]]:
        """The resources of each page of ``resource`` changed since ``since``."""
        params = {"_lastUpdated": f"ge{_fhir_date(since)}", "_count": str(self.page_size)}
        url: str | None = f"{self.base_url}/{resource}"
        seen: set[str] = set()
        while url is not None and len(seen) < MAX_PAGES:
            bundle = await self._get(url, params if not seen else None)
            seen.add(url)
            found = bundle.get("entry")
            entries: list[Any] = found if isinstance(found, list) else []
            yield [
                e["resource"] for e in entries if isinstance(e, dict) and isinstance(e.get("resource"), dict)
            ]
            url = self._next(bundle)
            if url in seen:
                raise DataError(f"the FHIR API's next links loop at {url}")


async def _version_for_sync(conn: Conn) -> int:
    """The version in force, creating an empty one when the mirror has none."""
    version = await versions.current_version(conn)
    if version is not None:
        return version
    async with versions.import_lock(conn, wait=True):
        version = await versions.current_version(conn)
        if version is None:
            version = await versions.create_version(conn, "fhir", "FHIR API")
            await versions.index_table(conn, version)
            await versions.put_in_force(conn, version)
    return version


async def _apply(conn: Conn, found: list[tuple[EntryData, str]], report: SyncReport) -> None:
    """Upsert one page's mailboxes into the version in force (one transaction)."""
    async with conn.transaction():
        version: int = await conn.fetchval("SELECT version_id FROM national_current FOR SHARE")
        latest = {data.address: (data, default) for data, default in found}  # the last one of the page wins
        rows = await conn.fetch(_KNOWN, version, list(latest))
        known = {r["address"]: EntryData(*r.values()) for r in rows}
        records = [
            record(version, 0, merge(known.get(a), data, default)) for a, (data, default) in latest.items()
        ]
        await conn.executemany(_UPSERT, records)
        inserted = len(latest) - len(known)
        await conn.execute(
            "UPDATE national_versions SET row_count = row_count + $2 WHERE id = $1", version, inserted
        )
    report.inserted += inserted
    report.updated += len(known)


async def _since(conn: Conn, since: datetime | None) -> datetime:
    if since is not None:
        return since if since.tzinfo else since.replace(tzinfo=UTC)
    stored: datetime | None = await conn.fetchval(
        "SELECT coalesce((SELECT cursor FROM national_sync WHERE source = 'fhir'),"
        " (SELECT v.file_date FROM national_current c JOIN national_versions v ON v.id = c.version_id))"
    )
    if stored is None:
        raise ConfigError("no date to sync the FHIR API from: import an extraction first, or give --since")
    return stored


async def _advance(conn: Conn, report: SyncReport, upserts: int) -> bool:
    """Record the run; move the cursor unless the version in force changed during the run.

    A switch sets the cursor back to the new version's file date: changes since then are asked
    again next time, including those this run put into the previous version.
    """
    async with conn.transaction():
        version = await conn.fetchval("SELECT version_id FROM national_current FOR SHARE")
        advance = bool(version == report.version_id)
        await conn.execute(
            "INSERT INTO national_sync (source, cursor, last_run_at, last_upserts)"
            " VALUES ('fhir', $1, now(), $2)"
            " ON CONFLICT (source) DO UPDATE SET last_run_at = now(), last_upserts = $2,"
            " cursor = CASE WHEN $3 THEN $1 ELSE national_sync.cursor END",
            report.until,
            upserts,
            advance,
        )
    return advance


async def sync(
    pool: asyncpg.Pool,
    base_url: str,
    api_key: str,
    *,
    since: datetime | None = None,
    timeout: float = 30.0,
    page_size: int = 50,
    session: aiohttp.ClientSession | None = None,
) -> SyncReport:
    """Apply the FHIR API's changes since ``since`` (default: the cursor) to the version in force.

    Raises:
        ConfigError: no API key, the key is refused, or no date to start from.
        UnavailableError: the API did not answer (nothing is lost: the cursor does not move).
        DataError: the API answered something else than FHIR Bundles.
    """
    if not api_key:
        raise ConfigError("no FHIR API key (MSS_DIRECTORY_FHIR_API_KEY)")
    started = time.monotonic()
    own = session is None
    http = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))
    try:
        async with pool.acquire() as conn:
            report = SyncReport(
                since=await _since(conn, since), until=datetime.now(UTC).replace(microsecond=0)
            )
            report.version_id = await _version_for_sync(conn)
            client = FhirClient(http, base_url, api_key, page_size)
            for resource in RESOURCES:
                async for page in client.pages(resource, report.since):
                    report.pages += 1
                    report.resources += len(page)
                    found = [(data, DEFAULT_TYPES[resource]) for r in page for data in mailboxes(r)]
                    report.mailboxes += len(found)
                    if found:
                        await _apply(conn, found, report)
            report.cursor_advanced = await _advance(conn, report, report.inserted + report.updated)
    finally:
        if own:
            await http.close()
    report.seconds = time.monotonic() - started
    log.info("national directory synced from the FHIR API", extra={"mailboxes": report.mailboxes})
    return report
