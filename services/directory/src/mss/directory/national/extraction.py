"""The ANS extraction of MSSanté mailboxes (R-DIR-3), read as a stream and validated row by row.

The file is UTF-8 text, one header line then one mailbox per line, 31 fields separated by ``|``
(no quoting), possibly the only ``.txt`` member of a zip. Lines are read one at a time with a length
bound, so memory does not grow with the file nor with a hostile line.

A row is refused, with its line number and the reason, when it does not decode as UTF-8, has another
number of fields, an unknown mailbox type, a malformed address, an identifier said to be RPPS that is
not 11 digits, a NUL character or an oversized field or line. Duplicate addresses are allowed: the
last row of an address wins (the file is in no particular order, and a later row is as recent as an
earlier one); each replaced row is counted as a duplicate. A wrong header refuses the whole file.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO
from zoneinfo import ZoneInfo

from mss.core.errors import DataError
from mss.directory.national.entries import RPPS_ID_TYPES, TYPES, EntryData, postal_and_city, valid_address
from mss.directory.national.keys import search_key

COLUMNS = (
    "Type de BAL",
    "Adresse BAL",
    "Type Identifiant PP",
    "Identifiant PP",
    "Identification nationale PP",
    "Type identifiant structure",
    "Identification Structure",
    "Service de rattachement",
    "Civilité d'exercice",
    "Nom d'exercice",
    "Prénom d'exercice",
    "Catégorie profession",
    "Libellé de catégorie profession",
    "Code Profession",
    "Libellé Profession",
    "Code savoir-faire",
    "Libellé savoir-faire",
    "Dématérialisation",
    "Raison Sociale structure BAL",
    "Enseigne commerciale structure BAL",
    "L2COMPLEMENTLOCALISATION structure BAL",
    "L3COMPLEMENTDISTRIBUTION structure BAL",
    "L4NUMEROVOIE structure BAL",
    "L4COMPLEMENTNUMEROVOIE structure BAL",
    "NL4TYPEVOIE structure BAL",
    "L4LIBELLEVOIE structure BAL",
    "L5LIEUDITMENTION structure BAL",
    "L6LIGNEACHEMINEMENT structure BAL",
    "Code postal structure BAL",
    "Département structure BAL",
    "Pays structure BAL",
)
"""The 31 columns of the extraction, in order, as its header names them."""
HEADER = "|".join(COLUMNS)

MAX_LINE_BYTES = 16 * 1024
"""A longer line is refused (real lines are about 170 bytes)."""
MAX_FIELD_CHARS = 500
SAMPLE = 20
"""Invalid rows and duplicates reported individually (the others are counted)."""

_RPPS = re.compile(r"^[0-9]{11}$")
_FILE_DATE = re.compile(r"_(\d{12})\.(?:txt|zip)$", re.IGNORECASE)
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class RowIssue:
    """A refused or replaced row: its line number in the file (the header is line 1) and why."""

    line: int
    reason: str


@dataclass
class ParseReport:
    """Counts of one reading of an extraction."""

    rows_read: int = 0
    """Data lines (blank lines excluded)."""
    invalid: int = 0
    duplicates: int = 0
    """Rows replaced by a later row with the same address."""
    invalid_rows: list[RowIssue] = field(default_factory=list)
    """The first :data:`SAMPLE` invalid rows."""
    duplicate_rows: list[RowIssue] = field(default_factory=list)
    """The first :data:`SAMPLE` replaced rows (reason: the address and the line replacing it)."""

    @property
    def valid(self) -> int:
        """Rows kept (before duplicates are resolved)."""
        return self.rows_read - self.invalid

    @property
    def invalid_ratio(self) -> float:
        """Invalid rows / rows read (0 for an empty file)."""
        return self.invalid / self.rows_read if self.rows_read else 0.0

    def check(self, max_invalid_ratio: float) -> None:
        """Refuse the file (DataError) when it has no valid row or too many invalid ones."""
        if self.rows_read == 0:
            raise DataError("the extraction has no rows: refused (it would empty the directory)")
        if self.invalid_ratio > max_invalid_ratio or self.valid == 0:
            first = "; ".join(f"line {r.line}: {r.reason}" for r in self.invalid_rows[:5])
            raise DataError(
                f"the extraction is refused: {self.invalid} of {self.rows_read} rows are invalid "
                f"({self.invalid_ratio:.1%} > {max_invalid_ratio:.1%} allowed); first: {first}"
            )


def _header_name(name: str) -> str:
    key = search_key(name)
    key = key.removesuffix(" structure bal")
    return "l4typevoie" if key == "nl4typevoie" else key


_EXPECTED = tuple(_header_name(c) for c in COLUMNS)


def check_header(raw: bytes) -> bool:
    """Validate the header line; True when it ends with a separator (then so does every row).

    Names are compared without case, accents or the " structure BAL" suffix of the address columns.
    """
    try:
        text = raw.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise DataError(f"not an MSSanté extraction: the header is not UTF-8 ({exc.reason})") from None
    names = text.split("|")
    trailing = len(names) == len(COLUMNS) + 1 and names[-1].strip() == ""
    if trailing:
        names.pop()
    if len(names) != len(COLUMNS):
        raise DataError(
            f"not an MSSanté extraction: the header has {len(names)} columns, expected {len(COLUMNS)} "
            f"({HEADER[:60]}…)"
        )
    for number, (name, expected) in enumerate(zip(names, _EXPECTED, strict=True), start=1):
        if _header_name(name) != expected:
            raise DataError(
                f"not an MSSanté extraction: header column {number} is {name.strip()[:60]!r}, "
                f"expected {COLUMNS[number - 1]!r}"
            )
    return trailing


def _field_too_long(fields: list[str]) -> str | None:
    for number, value in enumerate(fields, start=1):
        if len(value) > MAX_FIELD_CHARS:
            return f"column {number} ({COLUMNS[number - 1]}) is longer than {MAX_FIELD_CHARS} characters"
    return None


def parse_row(text: str, trailing: bool = False) -> EntryData | str:
    """The mailbox of one line (without its end of line), or why the row is refused.

    ``trailing``: the line ends with a separator (as the header does).
    """
    fields = text.split("|")
    if trailing:
        if fields[-1].strip():
            return f"{len(fields)} columns, expected {len(COLUMNS)} and a final separator"
        fields.pop()
    if len(fields) != len(COLUMNS):
        return f"{len(fields)} columns, expected {len(COLUMNS)}"
    if "\x00" in text:
        return "holds a NUL character"
    if len(text) > MAX_FIELD_CHARS and (problem := _field_too_long(fields)):
        return problem
    if text != text.strip() or "| " in text or " |" in text or "\t" in text:
        fields = [f.strip() for f in fields]
    kind = fields[0].upper()
    if kind not in TYPES:
        return f"unknown mailbox type {fields[0][:20]!r} (expected one of {', '.join(sorted(TYPES))})"
    address = fields[1].lower()
    if not address:
        return "no address"
    if not valid_address(address):
        return f"malformed address {fields[1][:80]!r}"
    id_type, pp_id = fields[2], fields[3]
    rpps = None
    if id_type in RPPS_ID_TYPES or id_type.upper() in RPPS_ID_TYPES:
        if not _RPPS.match(pp_id):
            return f"RPPS identifier {pp_id[:20]!r} is not 11 digits"
        rpps = pp_id
    postal_code, city = postal_and_city(fields[27], fields[28])
    return EntryData(
        address,
        kind,
        id_type,
        pp_id,
        fields[4],  # national id
        rpps,
        fields[5],  # structure id type
        fields[6],  # structure id
        fields[7],  # service
        fields[8],  # civility
        fields[9],  # last name
        fields[10],  # first name
        fields[13],  # profession code
        fields[14],  # profession label
        fields[15],  # speciality (savoir-faire) code
        fields[16],  # speciality label
        fields[18] or fields[19],  # raison sociale, else enseigne commerciale
        postal_code,
        city,
        fields[29],  # department
        fields[30],  # country
    )


def _lines(stream: IO[bytes], first: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) of each line; None for a line longer than :data:`MAX_LINE_BYTES`."""
    number = first - 1
    try:
        while True:
            raw = stream.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while (rest := stream.readline(64 * 1024)) and not rest.endswith(b"\n"):
                    pass
                yield number, None
                continue
            yield number, raw
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise DataError(f"the zip is damaged after line {number}: {exc}") from None


class Extraction:
    """Rows of an extraction read from ``stream``; the header is checked on construction.

    Iterate :meth:`rows` once; :attr:`report` counts as it goes, and :attr:`duplicated` holds the
    addresses met more than once (the importer keeps each one's last row).
    """

    def __init__(self, stream: IO[bytes], file_name: str = "") -> None:
        self.file_name = file_name
        self.report = ParseReport()
        self.duplicated: set[str] = set()
        self._stream = stream
        header = stream.readline(MAX_LINE_BYTES + 1)
        if not header:
            raise DataError("not an MSSanté extraction: the file is empty")
        if len(header) > MAX_LINE_BYTES:
            raise DataError("not an MSSanté extraction: the header line is too long")
        self._trailing = check_header(header)

    def _refuse(self, line: int, reason: str) -> None:
        self.report.invalid += 1
        if len(self.report.invalid_rows) < SAMPLE:
            self.report.invalid_rows.append(RowIssue(line, reason))

    def rows(self) -> Iterator[tuple[int, EntryData]]:
        """(line number, mailbox) of each valid row, in file order (duplicates included)."""
        report, seen, trailing = self.report, dict[str, int](), self._trailing
        for line, raw in _lines(self._stream, 2):
            if raw is None:
                report.rows_read += 1
                self._refuse(line, f"line longer than {MAX_LINE_BYTES} bytes")
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                report.rows_read += 1
                self._refuse(line, f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start + 1}")
                continue
            text = text.rstrip("\r\n")
            if not text or text.isspace():
                continue
            report.rows_read += 1
            data = parse_row(text, trailing)
            if isinstance(data, str):
                self._refuse(line, data)
                continue
            earlier = seen.get(data.address)
            if earlier is not None:
                report.duplicates += 1
                self.duplicated.add(data.address)
                if len(report.duplicate_rows) < SAMPLE:
                    report.duplicate_rows.append(RowIssue(earlier, f"{data.address} again at line {line}"))
            seen[data.address] = line
            yield line, data


def file_date(name: str) -> datetime | None:
    """The generation time in an extraction's name (``…_AAAAMMJJhhmm.txt`` or ``.zip``, Paris time)."""
    match = _FILE_DATE.search(name)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%d%H%M").replace(tzinfo=ZoneInfo("Europe/Paris"))
    except ValueError:
        return None


@contextmanager
def open_extraction(path: Path) -> Iterator[tuple[IO[bytes], str]]:
    """(binary stream, file name) of the extraction text: ``path`` itself, or its zip's ``.txt`` member."""
    with path.open("rb") as file:
        if file.read(4) != _ZIP_MAGIC:
            file.seek(0)
            yield file, path.name
            return
        file.seek(0)
        try:
            archive = zipfile.ZipFile(file)
        except zipfile.BadZipFile as exc:
            raise DataError(f"{path.name}: not a readable zip ({exc})") from None
        with archive:
            members = [
                i for i in archive.infolist() if not i.is_dir() and i.filename.lower().endswith(".txt")
            ]
            if len(members) != 1:
                raise DataError(f"{path.name}: expected one .txt file in the zip, found {len(members)}")
            with archive.open(members[0]) as member:
                yield io.BufferedReader(member, 1 << 20), PurePosixPath(members[0].filename).name  # type: ignore[type-var]
