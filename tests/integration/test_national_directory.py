"""The national directory mirror against a real PostgreSQL: imports put in force atomically, refused files
that change nothing, searches, the FHIR sync over HTTP, and the HTTPS download.

The database is the session's (shared with other tests): every test imports its own file first, and
every import leaves a complete version in force.
"""

from __future__ import annotations

import asyncio
import ssl
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import trustme
from aiohttp import web
from mss.core.errors import ConfigError, ConflictError, DataError
from mss.devstack.ports import free_port
from mss.directory.national import fhir, versions
from mss.directory.national.__main__ import main
from mss.directory.national.extraction import HEADER
from mss.directory.national.fetch import download
from mss.directory.national.generate import generate
from mss.directory.national.importer import ImportProgress, ImportReport, import_extraction
from mss.directory.national.queries import national_entry, search, version_in_force

from ..services.directory.national_fhir_samples import mailbox, organization, practitioner, role

pytestmark = pytest.mark.integration

FILE_NAME = "Extraction_Correspondance_MSSante_202601150400.txt"
FILE_DATE = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)


def person(
    address: str,
    last: str,
    first: str,
    rpps: str,
    profession: tuple[str, str] = ("10", "Médecin"),
    routing: str = "69003 LYON",
    speciality: tuple[str, str] = ("", ""),
) -> str:
    postal = routing.split()[0]
    return "|".join(
        ["PER", address, "8", rpps, f"8{rpps}", "1", "1690000001", "", "DR", last, first, "C", "Civil",
         *profession, *speciality, "", "CABINET MÉDICAL", "", "", "", "3", "", "RUE", "DE LA PAIX", "",
         routing, postal, postal[:2], "FRANCE"]
    )  # fmt: skip


def service(address: str, name: str, structure: str, routing: str = "69437 LYON CEDEX 03") -> str:
    postal = routing.split()[0]
    return "|".join(
        ["ORG", address, "", "", "", "1", "1690000002", name, "", "", "", "", "", "", "", "", "", "",
         structure, "", "", "", "1", "", "PL", "D'ARSONVAL", "", routing, postal, "69", "FRANCE"]
    )  # fmt: skip


DIRECTORY = [
    person("helene.lefevre@infirmier.mssante.fr", "LEFÈVRE", "Hélène", "10000000011", ("60", "Infirmier"),
           "42055 SAINT-ÉTIENNE"),
    person("jean-marie.dupont@medecin.mssante.fr", "DUPONT", "Jean-Marie", "10000000012",
           speciality=("SM04", "Cardiologie et maladies vasculaires")),
    person("jean.dupond@medecin.mssante.fr", "DUPOND", "Jean", "10000000013", routing="75013 PARIS"),
    person("paul.martin@chirurgien-dentiste.mssante.fr", "MARTIN", "Paul", "10000000014",
           ("40", "Chirurgien-Dentiste"), "13005 MARSEILLE"),
    person("anne.martinez@sagefemme.mssante.fr", "MARTINEZ", "Anne", "10000000015", ("50", "Sage-Femme")),
    person("louise.paris@medecin.mssante.fr", "PARIS", "Louise", "10000000016"),
    service("cardiologie@chu-lyon.mssante.fr", "Cardiologie", "CHU DE LYON"),
]  # fmt: skip


def write(path: Path, *lines: str, header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the session's database."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert pool is not None
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def directory(pool: asyncpg.Pool, tmp_path: Path) -> ImportReport:
    """The small directory above, in force."""
    return await import_extraction(pool, write(tmp_path / FILE_NAME, *DIRECTORY))


async def in_force(pool: asyncpg.Pool) -> int:
    version: int = await pool.fetchval("SELECT version_id FROM national_current")
    return version


async def test_an_imported_file_is_in_force_and_looked_up_by_address(
    pool: asyncpg.Pool, directory: ImportReport
) -> None:
    assert (directory.rows_read, directory.imported, directory.invalid, directory.duplicates) == (7, 7, 0, 0)
    assert await in_force(pool) == directory.version_id
    entry = await national_entry(pool, " <Jean-Marie.Dupont@MEDECIN.mssante.fr> ")
    assert entry is not None
    assert entry.version_id == directory.version_id
    assert (entry.type, entry.rpps, entry.last_name, entry.first_name) == (
        "PER",
        "10000000012",
        "DUPONT",
        "Jean-Marie",
    )
    assert (entry.profession_label, entry.speciality_code, entry.city) == ("Médecin", "SM04", "LYON")
    assert await national_entry(pool, "nobody@medecin.mssante.fr") is None
    info = await version_in_force(pool)
    assert info is not None
    assert (info.id, info.row_count, info.file_name, info.file_date) == (
        directory.version_id,
        7,
        FILE_NAME,
        FILE_DATE,
    )
    tables = await pool.fetchval("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'national_entries_v%'")
    assert tables == 1, "older versions are dropped"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dup", ["jean.dupond", "jean-marie.dupont"]),  # last name prefix, alphabetical
        ("DUPONT jean", ["jean-marie.dupont"]),  # "last first"
        ("jean-marie dup", ["jean-marie.dupont"]),  # "first last"
        ("lefèv", ["helene.lefevre"]),
        ("LEFEVRE", ["helene.lefevre"]),
        ("hélène", ["helene.lefevre"]),
        ("10000000011", ["helene.lefevre"]),  # RPPS
        ("1000000001", []),  # not an RPPS: a prefix of nothing
        ("infirm", ["helene.lefevre"]),  # profession
        ("chirurgien-dent", ["paul.martin"]),
        ("Saint-Étienne", ["helene.lefevre"]),  # city
        ("saint eti", ["helene.lefevre"]),
        ("martin", ["paul.martin", "anne.martinez"]),  # the exact last name first
        ("paris", ["louise.paris", "jean.dupond"]),  # a name before a city
        ("lyon", ["cardiologie", "jean-marie.dupont", "anne.martinez", "louise.paris"]),  # city, then name
        ("cardio", ["cardiologie"]),  # an organisation's service
        ("chu de l", ["cardiologie"]),  # its structure
        ("", []),
        ("--", []),
    ],
)
async def test_search_by_name_rpps_profession_or_city_ignores_case_and_accents(
    pool: asyncpg.Pool, directory: ImportReport, query: str, expected: list[str]
) -> None:
    found = await search(pool, query)
    assert [e.address.split("@")[0] for e in found] == expected
    assert all(e.version_id == directory.version_id for e in found)


async def test_search_returns_at_most_limit_entries(pool: asyncpg.Pool, directory: ImportReport) -> None:
    assert len(await search(pool, "lyon", limit=2)) == 2
    assert await search(pool, "lyon", limit=0) == []


async def test_the_last_row_of_a_duplicated_address_wins(pool: asyncpg.Pool, tmp_path: Path) -> None:
    first = person("twice@medecin.mssante.fr", "AVANT", "Léa", "10000000021")
    last = person("TWICE@medecin.mssante.fr", "APRES", "Léa", "10000000022")
    report = await import_extraction(pool, write(tmp_path / "dup.txt", first, *DIRECTORY, last))
    assert (report.rows_read, report.imported, report.duplicates) == (9, 8, 1)
    assert [(r.line, r.reason) for r in report.duplicate_rows] == [
        (2, "twice@medecin.mssante.fr again at line 10")
    ]
    entry = await national_entry(pool, "twice@medecin.mssante.fr")
    assert entry is not None
    assert (entry.last_name, entry.rpps) == ("APRES", "10000000022")


async def test_a_mostly_invalid_file_is_refused_and_the_version_in_force_stays(
    pool: asyncpg.Pool, directory: ImportReport, tmp_path: Path
) -> None:
    broken = [person(f"bad{n}@medecin.mssante.fr", "X", "Y", "123") for n in range(3)]
    path = write(
        tmp_path / "broken.txt", person("new@medecin.mssante.fr", "NEW", "Ana", "10000000031"), *broken
    )
    with pytest.raises(DataError, match=r"3 of 4 rows are invalid \(75.0% > 10.0% allowed\); first: line 3"):
        await import_extraction(pool, path)
    assert await in_force(pool) == directory.version_id
    assert await national_entry(pool, "jean.dupond@medecin.mssante.fr") is not None
    assert await national_entry(pool, "new@medecin.mssante.fr") is None
    failed = await pool.fetchrow("SELECT id, status, detail FROM national_versions ORDER BY id DESC LIMIT 1")
    assert (failed["status"], failed["detail"][:26]) == ("failed", "[mss.data] the extraction ")
    assert await pool.fetchval("SELECT to_regclass($1)", versions.table_name(failed["id"])) is None
    report = await import_extraction(pool, path, max_invalid_ratio=0.8)  # the threshold is a setting
    assert (report.imported, report.invalid) == (1, 3)


async def test_a_wrong_header_is_refused_before_anything_is_written(
    pool: asyncpg.Pool, directory: ImportReport, tmp_path: Path
) -> None:
    count = await pool.fetchval("SELECT count(*) FROM national_versions")
    path = write(tmp_path / "x.txt", *DIRECTORY, header=HEADER.replace("Type de BAL", "Kind"))
    with pytest.raises(DataError, match="header column 1 is 'Kind', expected 'Type de BAL'"):
        await import_extraction(pool, path)
    assert await pool.fetchval("SELECT count(*) FROM national_versions") == count
    assert await in_force(pool) == directory.version_id


async def test_an_import_while_another_runs_is_refused(pool: asyncpg.Pool, tmp_path: Path) -> None:
    async with pool.acquire() as other, versions.import_lock(other):
        with pytest.raises(ConflictError, match="another import"):
            await import_extraction(pool, write(tmp_path / "x.txt", *DIRECTORY))


async def test_what_an_interrupted_import_left_is_dropped_by_the_next(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    async with pool.acquire() as conn:
        stale = await versions.create_version(conn, "extraction", "crashed")
    report = await import_extraction(pool, write(tmp_path / "x.txt", *DIRECTORY))
    assert report.version_id > stale
    row = await pool.fetchrow("SELECT status, detail FROM national_versions WHERE id = $1", stale)
    assert (row["status"], row["detail"]) == ("failed", "interrupted")
    assert await pool.fetchval("SELECT to_regclass($1)", versions.table_name(stale)) is None


def marked(path: Path, rows: int, seed: int, marker: str) -> Path:
    """A synthetic extraction of ``rows`` rows plus one row for ``marker``."""
    generate(path, rows, seed=seed)
    with path.open("a", encoding="utf-8") as file:
        file.write(person(marker, "MARQUEUR", "Test", "10000000099") + "\n")
    return path


_VIEW = """
SELECT (SELECT version_id FROM national_current) AS version, count(*) AS entries,
       count(*) FILTER (WHERE address = $1) AS old_marker, count(*) FILTER (WHERE address = $2) AS new_marker
FROM national_entries WHERE version_id = (SELECT version_id FROM national_current)
"""


async def test_a_concurrent_reader_sees_the_old_version_or_the_new_one_never_a_mix(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    old = await import_extraction(pool, marked(tmp_path / "old.txt", 20_000, 11, "old@marker.mssante.fr"))
    new_file = marked(tmp_path / "new.txt", 30_000, 12, "new@marker.mssante.fr")
    markers = ("old@marker.mssante.fr", "new@marker.mssante.fr")
    before = (old.version_id, old.imported, 1, 0)
    phase, seen, done = ["waiting"], list[tuple[str, tuple[int, ...]]](), asyncio.Event()

    async def reader() -> None:
        async with pool.acquire() as conn:
            while not done.is_set():
                seen.append((phase[0], tuple(await conn.fetchrow(_VIEW, *markers))))

    async def progress(update: ImportProgress) -> None:
        phase[0] = update.phase
        if update.phase in ("loading", "indexing", "switching"):  # the new rows exist, not in force yet
            assert tuple(await pool.fetchrow(_VIEW, *markers)) == before

    reading = asyncio.create_task(reader())
    try:
        new = await import_extraction(pool, new_file, progress=progress, batch_rows=1000)
    finally:
        done.set()
        await reading
    after = (new.version_id, new.imported, 0, 1)
    assert new.imported == 30_001
    assert {view for _, view in seen} <= {before, after}, "a reader saw a half-imported directory"
    assert sum(1 for p, view in seen if p == "loading" and view == before) >= 10, (
        "the reader ran during the load"
    )
    assert seen[-1][1] == after
    assert tuple(await pool.fetchrow(_VIEW, *markers)) == after


@dataclass
class FhirServer:
    """A FHIR API on 127.0.0.1: pages of Bundles per resource, the API key checked, requests recorded."""

    key: str
    pages: dict[str, list[list[dict[str, Any]]]]
    port: int = field(default_factory=free_port)
    requests: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    foreign_next: bool = False

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    async def handle(self, request: web.Request) -> web.Response:
        resource = request.match_info["resource"]
        self.requests.append((resource, dict(request.query), request.headers.get("ESANTE-API-KEY", "")))
        if request.headers.get("ESANTE-API-KEY") != self.key:
            return web.json_response({"resourceType": "OperationOutcome"}, status=401)
        pages = self.pages.get(resource, [[]])
        number = int(request.query.get("page", "1"))
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in pages[number - 1]],
            "link": [{"relation": "self", "url": str(request.url)}],
        }
        if number < len(pages):
            host = "http://elsewhere.example" if self.foreign_next else f"http://127.0.0.1:{self.port}"
            bundle["link"].append({"relation": "next", "url": f"{host}/fhir/{resource}?page={number + 1}"})
        return web.json_response(bundle, content_type="application/fhir+json")


@pytest.fixture
async def fhir_server() -> AsyncIterator[FhirServer]:
    server = FhirServer(
        key="secret-key",
        pages={
            "Practitioner": [
                [practitioner("10000000041", "NOUVEAU", "Zoé", mailbox("zoe.nouveau@medecin.mssante.fr"))],
                [practitioner("10000000012", "DUPONT-MOREL", "Jean-Marie",
                              mailbox("jean-marie.dupont@medecin.mssante.fr"))],
            ],
            "PractitionerRole": [[role(mailbox("paul.martin@chirurgien-dentiste.mssante.fr", kind=None))]],
            "Organization": [[organization(
                "690000019", "CHU DE LYON",
                mailbox("urgences@chu-lyon.mssante.fr", kind="ORG", service="Urgences"),
            )]],
        },
    )  # fmt: skip
    app = web.Application()
    app.router.add_get("/fhir/{resource}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", server.port).start()
    try:
        yield server
    finally:
        await runner.cleanup()


async def test_the_fhir_sync_follows_pages_with_the_api_key_and_updates_the_version_in_force(
    pool: asyncpg.Pool, directory: ImportReport, fhir_server: FhirServer, tmp_path: Path
) -> None:
    report = await fhir.sync(pool, fhir_server.base, "secret-key")
    asked = [
        (resource, query.get("_lastUpdated"), query.get("page"))
        for resource, query, _ in fhir_server.requests
    ]
    assert asked == [
        ("Practitioner", "ge2026-01-15T03:00:00Z", None),  # since the file's generation
        ("Practitioner", None, "2"),
        ("PractitionerRole", "ge2026-01-15T03:00:00Z", None),
        ("Organization", "ge2026-01-15T03:00:00Z", None),
    ]
    assert {key for _, _, key in fhir_server.requests} == {"secret-key"}
    assert fhir_server.requests[0][1]["_count"] == "50"
    assert (report.pages, report.mailboxes, report.inserted, report.updated) == (4, 4, 2, 2)
    assert report.cursor_advanced

    zoe = await national_entry(pool, "zoe.nouveau@medecin.mssante.fr")
    assert zoe is not None
    assert (zoe.version_id, zoe.type, zoe.rpps, zoe.first_name) == (
        directory.version_id,
        "PER",
        "10000000041",
        "Zoé",
    )
    assert await search(pool, "nouveau z") == [zoe]
    dupont = await national_entry(pool, "jean-marie.dupont@medecin.mssante.fr")
    assert dupont is not None
    assert (dupont.last_name, dupont.city, dupont.speciality_code) == ("DUPONT-MOREL", "LYON", "SM04")
    martin = await national_entry(pool, "paul.martin@chirurgien-dentiste.mssante.fr")
    assert martin is not None
    assert (martin.type, martin.last_name, martin.speciality_label) == ("PER", "MARTIN", "Psychiatrie")
    urgences = await national_entry(pool, "urgences@chu-lyon.mssante.fr")
    assert urgences is not None
    assert (urgences.type, urgences.service, urgences.structure_id) == ("ORG", "Urgences", "1690000019")
    info = await version_in_force(pool)
    assert info is not None
    assert (info.row_count, info.fhir_cursor) == (9, report.until)

    fhir_server.requests.clear()
    await fhir.sync(pool, fhir_server.base, "secret-key")
    assert fhir_server.requests[0][1]["_lastUpdated"] == f"ge{report.until:%Y-%m-%dT%H:%M:%SZ}"

    with pytest.raises(ConfigError, match="refused the key"):
        await fhir.sync(pool, fhir_server.base, "wrong-key")
    info = await version_in_force(pool)
    assert info is not None
    assert info.fhir_cursor is not None
    assert info.fhir_cursor >= report.until

    await import_extraction(pool, write(tmp_path / FILE_NAME, *DIRECTORY))
    info = await version_in_force(pool)
    assert info is not None
    assert info.fhir_cursor == FILE_DATE, "a new file sets the cursor back to its date"


async def test_a_next_link_to_another_host_is_refused_and_the_cursor_stays(
    pool: asyncpg.Pool, directory: ImportReport, fhir_server: FhirServer
) -> None:
    fhir_server.foreign_next = True
    cursor = await pool.fetchval("SELECT cursor FROM national_sync WHERE source = 'fhir'")
    with pytest.raises(DataError, match="next link leaves"):
        await fhir.sync(pool, fhir_server.base, "secret-key", since=datetime(2026, 2, 1, tzinfo=UTC))
    assert await pool.fetchval("SELECT cursor FROM national_sync WHERE source = 'fhir'") == cursor
    assert [r for r, _, _ in fhir_server.requests] == ["Practitioner"]


async def test_the_fhir_api_is_only_reached_over_https_except_on_loopback(pool: asyncpg.Pool) -> None:
    with pytest.raises(ConfigError, match="must be https"):
        await fhir.sync(pool, "http://gateway.example/fhir/v2", "key", since=datetime(2026, 1, 1, tzinfo=UTC))


async def test_the_extraction_is_downloaded_over_https_with_a_pinned_ca_then_imported(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    archive = tmp_path / "served.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(
            "Extraction_Correspondance_MSSante_202608261013.txt", "\n".join([HEADER, *DIRECTORY]) + "\n"
        )
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(tls)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))

    async def serve(request: web.Request) -> web.FileResponse:
        headers = {
            "Content-Disposition": "attachment; filename=Extraction_Correspondance_MSSante_202608261013.zip"
        }
        return web.FileResponse(archive, headers=headers)

    app = web.Application()
    app.router.add_get("/extraction/Extraction_Correspondance_MSSante", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=tls).start()
    url = f"https://localhost:{port}/extraction/Extraction_Correspondance_MSSante"
    try:
        folder = tmp_path / "download"
        folder.mkdir()
        fetched = await download(url, folder, ca_file=tmp_path / "ca.pem")
        with pytest.raises(DataError, match="larger than 100 bytes"):
            await download(url, tmp_path, ca_file=tmp_path / "ca.pem", max_bytes=100)
    finally:
        await runner.cleanup()
    assert not list(tmp_path.glob("Extraction_*")), "a refused download leaves nothing behind"
    assert not list(tmp_path.glob(".*.part"))
    assert fetched.name == "Extraction_Correspondance_MSSante_202608261013.zip"
    assert fetched.path.read_bytes() == archive.read_bytes()
    report = await import_extraction(pool, fetched.path, origin=url, file_name=fetched.name)
    assert report.imported == 7
    info = await version_in_force(pool)
    assert info is not None
    assert (info.origin, info.file_date) == (url, datetime(2026, 8, 26, 8, 13, tzinfo=UTC))
    with pytest.raises(ConfigError, match="must be https"):
        await download(url.replace("https", "http"), folder)


def test_the_command_line_imports_reports_and_refuses(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MSS_DIRECTORY_DATABASE_URL", database_url)
    path = tmp_path / "cli.zip"
    assert (
        main(["generate", "--rows", "120000", "--out", str(path), "--zip", "--invalid-ratio", "0.001"]) == 0
    )
    assert main(["import", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err.count(" rows read, ") == 2  # every 50,000 rows
    assert "indexing…" in err
    assert "in force: 120,000 rows read" in out
    assert "invalid rows (first 20):" in out
    assert main(["status"]) == 0
    assert f"from {path}" in capsys.readouterr().out
    assert main(["import", str(path), "--max-invalid-ratio", "0"]) == 1
    assert "error: [mss.data] the extraction is refused" in capsys.readouterr().err
    assert main(["search", "infirm", "--limit", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
