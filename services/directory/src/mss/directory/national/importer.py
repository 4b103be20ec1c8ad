"""Import an extraction file as a new version of the national directory, then put it in force.

Rows are validated while they are read and copied (``COPY``, in batches) into the new version's own
table, invisible to lookups. A wrong header refuses the file before anything is written; a file
with too many invalid rows (``max_invalid_ratio``) or no valid row is refused after reading, and its
table dropped. Otherwise duplicates are resolved (the last row of an address wins), the table is
indexed, and the version is put in force in one transaction; older versions are then dropped.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncpg
from mss.db.pool import Conn
from mss.directory.national import versions
from mss.directory.national.entries import COPY_COLUMNS, record
from mss.directory.national.extraction import Extraction, RowIssue, file_date, open_extraction

log = logging.getLogger(__name__)

BATCH_ROWS = 10_000
_POLL = 0.1  # s: how often a blocked reader looks whether the import stopped


@dataclass(frozen=True)
class ImportProgress:
    """Where an import is: ``phase`` is loading, indexing, switching or cleaning."""

    phase: str
    rows_read: int
    invalid: int


Progress = Callable[[ImportProgress], Awaitable[None] | None]
"""Called after each batch of rows and at each phase; may be a coroutine function."""


@dataclass
class ImportReport:
    """The outcome of an import that was put in force."""

    version_id: int
    file_name: str
    file_date: datetime | None
    rows_read: int
    imported: int
    invalid: int
    duplicates: int
    seconds: float
    invalid_rows: list[RowIssue] = field(default_factory=list)
    """The first invalid rows, with their line numbers and reasons."""
    duplicate_rows: list[RowIssue] = field(default_factory=list)
    retired: list[int] = field(default_factory=list)
    """Versions dropped after the switch."""

    def lines(self) -> list[str]:
        """The report, for people."""
        out = [
            f"version {self.version_id} in force: {self.rows_read:,} rows read, {self.imported:,} imported, "
            f"{self.invalid:,} invalid, {self.duplicates:,} duplicates (the last row of an address wins), "
            f"{self.seconds:.1f} s",
            f"file: {self.file_name}"
            + (f" (generated {self.file_date:%Y-%m-%d %H:%M %Z})" if self.file_date else ""),
        ]
        if self.invalid_rows:
            out.append(f"invalid rows (first {len(self.invalid_rows)}):")
            out += [f"  line {r.line}: {r.reason}" for r in self.invalid_rows]
        if self.duplicate_rows:
            out.append(f"duplicates (first {len(self.duplicate_rows)}):")
            out += [f"  line {r.line}: replaced, {r.reason}" for r in self.duplicate_rows]
        if self.retired:
            out.append(f"older versions dropped: {', '.join(map(str, self.retired))}")
        return out


async def _notify(progress: Progress | None, update: ImportProgress) -> None:
    if progress is None:
        return
    result = progress(update)
    if inspect.isawaitable(result):
        await result


class _Reader:
    """Reads and validates rows in a thread, handing batches of records over a bounded queue.

    Parsing is most of an import's work: in a thread it overlaps with PostgreSQL ingesting the
    previous batch.
    """

    def __init__(self, extraction: Extraction, version_id: int, batch_rows: int) -> None:
        self.extraction = extraction
        self.version_id = version_id
        self.batch_rows = batch_rows
        self.batches: queue.Queue[list[tuple[object, ...]] | None] = queue.Queue(maxsize=3)
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        version_id, batch_rows = self.version_id, self.batch_rows
        batch: list[tuple[object, ...]] = []
        try:
            for line, data in self.extraction.rows():
                batch.append(record(version_id, line, data))
                if len(batch) >= batch_rows:
                    self._put(batch)
                    batch = []
                    if self.stop.is_set():
                        return
            if batch:
                self._put(batch)
        except BaseException as exc:  # handed to the importer
            self.error = exc
        finally:
            self._put(None)

    def _put(self, item: list[tuple[object, ...]] | None) -> None:
        while not self.stop.is_set():
            try:
                self.batches.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

    def next(self) -> list[tuple[object, ...]] | None:
        """The next batch, None at the end (called in a thread)."""
        while not self.stop.is_set():
            try:
                return self.batches.get(timeout=_POLL)
            except queue.Empty:
                continue
        return None


async def _load(
    conn: Conn, version_id: int, extraction: Extraction, progress: Progress | None, batch_rows: int
) -> int:
    """Copy the valid rows into the version's table; the number copied."""
    table, report = versions.table_name(version_id), extraction.report
    reader = _Reader(extraction, version_id, batch_rows)
    reading = asyncio.ensure_future(asyncio.to_thread(reader.run))
    copied = 0
    try:
        while (batch := await asyncio.to_thread(reader.next)) is not None:
            await conn.copy_records_to_table(table, records=batch, columns=COPY_COLUMNS)
            copied += len(batch)
            await _notify(progress, ImportProgress("loading", report.rows_read, report.invalid))
        await reading
    finally:
        reader.stop.set()
        await asyncio.wait([reading])
    if reader.error is not None:
        raise reader.error
    return copied


async def _keep_last(conn: Conn, version_id: int, addresses: set[str]) -> int:
    """Delete all but the last row of each duplicated address; the number deleted."""
    if not addresses:
        return 0
    table = versions.table_name(version_id)
    last = f"SELECT address, max(line) AS line FROM {table} WHERE address = ANY($1::text[]) GROUP BY address"  # noqa: S608
    status = await conn.execute(
        f"DELETE FROM {table} d USING ({last}) k WHERE d.address = k.address AND d.line < k.line",  # noqa: S608
        sorted(addresses),
    )
    return int(status.split()[-1])


async def import_extraction(
    pool: asyncpg.Pool,
    path: Path,
    *,
    origin: str = "",
    file_name: str = "",
    max_invalid_ratio: float = 0.1,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportReport:
    """Import the extraction at ``path`` (text, or zip holding it) and put it in force.

    Args:
        pool: the directory's database pool (one connection is used throughout).
        path: the file.
        origin: where it came from (a URL), recorded with the version; default the path.
        file_name: the name it was published under (dates the version when the file's does not).
        max_invalid_ratio: invalid rows / rows above which the file is refused.
        progress: called after each batch and at each phase.
        batch_rows: rows per ``COPY``.

    Raises:
        DataError: the file is refused (header, too many invalid rows, no rows); nothing changed.
        ConflictError: another import is running.
    """
    started = time.monotonic()
    async with pool.acquire() as conn, versions.import_lock(conn):
        await versions.abandon_loading(conn)
        with open_extraction(path) as (stream, name):
            extraction = Extraction(stream, name)
            dated = name if file_date(name) or not file_name else file_name
            version_id = await versions.create_version(
                conn, "extraction", origin or str(path), name, file_date(dated)
            )
            try:
                copied = await _load(conn, version_id, extraction, progress, batch_rows)
                report = extraction.report
                report.check(max_invalid_ratio)
                removed = await _keep_last(conn, version_id, extraction.duplicated)
                await _notify(progress, ImportProgress("indexing", report.rows_read, report.invalid))
                await conn.execute("SET maintenance_work_mem = '256MB'")
                await versions.index_table(conn, version_id)
                await conn.execute("RESET maintenance_work_mem")
                await _notify(progress, ImportProgress("switching", report.rows_read, report.invalid))
                await versions.put_in_force(
                    conn,
                    version_id,
                    row_count=copied - removed,
                    rows_read=report.rows_read,
                    invalid=report.invalid,
                    duplicates=removed,
                )
            except BaseException as exc:
                try:
                    await versions.fail(conn, version_id, str(exc) or type(exc).__name__)
                except (asyncpg.PostgresError, OSError) as cleanup:
                    log.error(
                        "failed import not cleaned up", extra={"version": version_id, "error": str(cleanup)}
                    )
                raise
        await _notify(progress, ImportProgress("cleaning", report.rows_read, report.invalid))
        retired = await versions.drop_retired(conn)
    return ImportReport(
        version_id=version_id,
        file_name=name,
        file_date=file_date(dated),
        rows_read=report.rows_read,
        imported=copied - removed,
        invalid=report.invalid,
        duplicates=removed,
        seconds=time.monotonic() - started,
        invalid_rows=list(report.invalid_rows),
        duplicate_rows=list(report.duplicate_rows),
        retired=retired,
    )
