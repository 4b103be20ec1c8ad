"""``python -m mss.directory.national``: import, sync, search and generate the national directory.

    import [FILE_OR_URL] [--max-invalid-ratio R]   the extraction (default: MSS_DIRECTORY_NATIONAL_URL)
    sync [--since DATE]                            the FHIR API's changes since the last sync
    status                                         the version in force
    search QUERY [--limit N]                       completion search, as other code calls it
    generate --rows N --out FILE [--zip] [--seed S] [--invalid-ratio R] [--duplicate-ratio R]

The database is ``MSS_DIRECTORY_DATABASE_URL``. Progress goes to stderr, reports to stdout. Exit
status: 0 done, 1 refused or failed (the version in force is unchanged), 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import asyncpg
from mss.core.errors import MssError
from mss.db.pool import create_pool
from mss.directory.national import fhir, queries
from mss.directory.national.fetch import download
from mss.directory.national.generate import generate
from mss.directory.national.importer import ImportProgress, import_extraction
from mss.directory.settings import DirectorySettings

PROGRESS_EVERY = 50_000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mss.directory.national", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("import", help="import an extraction file or URL and put it in force")
    load.add_argument("source", nargs="?", help="file (text or zip) or https URL (default: the ANS URL)")
    load.add_argument("--max-invalid-ratio", type=float, help="refuse above this share of invalid rows")
    sync = commands.add_parser("sync", help="apply the FHIR API's changes to the version in force")
    sync.add_argument("--since", type=datetime.fromisoformat, help="ISO date (default: the last sync)")
    commands.add_parser("status", help="the version in force")
    find = commands.add_parser("search", help="search the version in force")
    find.add_argument("query")
    find.add_argument("--limit", type=int, default=10)
    make = commands.add_parser("generate", help="write a synthetic extraction")
    make.add_argument("--rows", type=int, required=True)
    make.add_argument("--out", type=Path, required=True)
    make.add_argument("--zip", action="store_true", help="a zip holding the text, as the ANS serves it")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--invalid-ratio", type=float, default=0.0, help="share of broken rows")
    make.add_argument("--duplicate-ratio", type=float, default=0.0, help="share of rows repeating an address")
    return parser


class _Progress:
    """Prints an import's progress on stderr: every 50,000 rows, and each phase."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.shown = 0

    def __call__(self, update: ImportProgress) -> None:
        elapsed = time.monotonic() - self.started
        if update.phase != "loading":
            print(f"{update.phase}… ({elapsed:.1f} s)", file=sys.stderr, flush=True)
        elif update.rows_read // PROGRESS_EVERY > self.shown:
            self.shown = update.rows_read // PROGRESS_EVERY
            print(
                f"{update.rows_read:,} rows read, {update.invalid:,} invalid ({elapsed:.1f} s)",
                file=sys.stderr,
                flush=True,
            )


async def _import(settings: DirectorySettings, source: str, max_invalid_ratio: float) -> list[str]:
    pool = await create_pool(settings)
    try:
        with tempfile.TemporaryDirectory(prefix="mss-national-") as folder:
            name, path = "", Path(source)
            if source.startswith(("https://", "http://")):
                print(f"downloading {source}…", file=sys.stderr, flush=True)
                fetched = await download(
                    source,
                    Path(folder),
                    ca_file=settings.national_ca_file,
                    max_bytes=settings.national_max_bytes,
                )
                name, path = fetched.name, fetched.path
                print(f"{fetched.size:,} bytes: {fetched.name}", file=sys.stderr, flush=True)
            report = await import_extraction(
                pool,
                path,
                origin=source,
                file_name=name,
                max_invalid_ratio=max_invalid_ratio,
                progress=_Progress(),
            )
    finally:
        await pool.close()
    return report.lines()


async def _sync(settings: DirectorySettings, since: datetime | None) -> list[str]:
    pool = await create_pool(settings)
    try:
        report = await fhir.sync(
            pool,
            settings.fhir_base_url,
            settings.fhir_api_key.get_secret_value(),
            since=since,
            timeout=settings.fhir_timeout,
            page_size=settings.fhir_page_size,
        )
    finally:
        await pool.close()
    return report.lines()


async def _status(settings: DirectorySettings) -> list[str]:
    pool = await create_pool(settings)
    try:
        info = await queries.version_in_force(pool)
    finally:
        await pool.close()
    if info is None:
        return ["no version in force: the national directory is empty"]
    dated = f", generated {info.file_date:%Y-%m-%d %H:%M %Z}" if info.file_date else ""
    synced = f"{info.fhir_cursor:%Y-%m-%dT%H:%M:%SZ}" if info.fhir_cursor else "never"
    return [
        f"version {info.id} ({info.source}) in force since {info.imported_at:%Y-%m-%d %H:%M:%S %Z}: "
        f"{info.row_count:,} mailboxes",
        f"file: {info.file_name or '-'}{dated} from {info.origin or '-'}",
        f"FHIR changes applied up to: {synced}",
    ]


async def _search(settings: DirectorySettings, query: str, limit: int) -> list[str]:
    pool = await create_pool(settings)
    try:
        found = await queries.search(pool, query, limit)
    finally:
        await pool.close()
    return [
        f"{e.address}  {e.type}  {e.civility} {e.first_name} {e.last_name}  {e.profession_label}"
        f"  {e.structure_name}  {e.postal_code} {e.city}  {e.rpps or ''}".replace("   ", " ")
        for e in found
    ] or ["nothing found"]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "generate":
            made = generate(
                args.out,
                args.rows,
                seed=args.seed,
                zipped=args.zip,
                invalid_ratio=args.invalid_ratio,
                duplicate_ratio=args.duplicate_ratio,
            )
            lines = [
                f"{made.path}: {made.rows:,} rows ({made.personal:,} PER, {made.organisational:,} ORG,"
                f" {made.broken:,} broken, {made.duplicates:,} repeated addresses) as {made.member}"
            ]
        else:
            settings = DirectorySettings()
            if args.command == "import":
                ratio = args.max_invalid_ratio
                ratio = settings.national_max_invalid_ratio if ratio is None else ratio
                lines = asyncio.run(_import(settings, args.source or settings.national_url, ratio))
            elif args.command == "sync":
                lines = asyncio.run(_sync(settings, args.since))
            elif args.command == "status":
                lines = asyncio.run(_status(settings))
            else:
                lines = asyncio.run(_search(settings, args.query, args.limit))
    except MssError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
