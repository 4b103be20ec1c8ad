"""The extraction parser: header check, row validation with line numbers, zip, duplicates, hostile input."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from mss.core.errors import DataError
from mss.directory.national.entries import postal_and_city, valid_address
from mss.directory.national.extraction import (
    COLUMNS,
    HEADER,
    MAX_LINE_BYTES,
    Extraction,
    ParseReport,
    file_date,
    open_extraction,
)
from mss.directory.national.keys import search_key


def row(**fields: str) -> str:
    """A valid PER row; keyword arguments replace columns by index name (c0 … c30)."""
    values = [
        "PER", "jean.dupont@medecin.mssante.fr", "8", "10001234567", "810001234567", "1", "1690000001",
        "Cardiologie", "DR", "DUPONT", "Jean", "C", "Civil", "10", "Médecin", "SM04",
        "Cardiologie et maladies vasculaires", "", "CENTRE HOSPITALIER DE LYON", "", "", "", "12", "", "RUE",
        "DE LA RÉPUBLIQUE", "", "69437 LYON CEDEX 03", "69437", "69", "FRANCE",
    ]  # fmt: skip
    for name, value in fields.items():
        values[int(name[1:])] = value
    return "|".join(values)


def parse(text: bytes) -> tuple[Extraction, list[tuple[int, str]]]:
    extraction = Extraction(io.BytesIO(text))
    return extraction, [(line, data.address) for line, data in extraction.rows()]


def document(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


def test_a_valid_row_gives_its_mailbox_with_city_from_the_routing_line() -> None:
    extraction = Extraction(io.BytesIO(document(row())))
    [(line, data)] = list(extraction.rows())
    assert line == 2
    assert data.address == "jean.dupont@medecin.mssante.fr"
    assert (data.type, data.rpps, data.last_name, data.first_name) == ("PER", "10001234567", "DUPONT", "Jean")
    assert (data.profession_code, data.profession_label, data.speciality_code) == ("10", "Médecin", "SM04")
    assert (data.postal_code, data.city, data.department) == ("69437", "LYON", "69")
    assert data.structure_name == "CENTRE HOSPITALIER DE LYON"
    assert extraction.report == ParseReport(rows_read=1)


def test_len_columns_is_the_documented_31() -> None:
    assert len(COLUMNS) == 31


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (HEADER.replace("Adresse BAL", "Adresse mail"), "header column 2 is 'Adresse mail'"),
        ("|".join(COLUMNS[:30]), "the header has 30 columns, expected 31"),
        ("|".join([*COLUMNS, "Extra"]), "the header has 32 columns, expected 31"),
        ("Type|Adresse\n", "the header has 2 columns"),
    ],
)
def test_a_wrong_header_refuses_the_whole_file(header: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        Extraction(io.BytesIO(document(row(), header=header)))


def test_an_empty_file_or_a_binary_header_is_refused() -> None:
    with pytest.raises(DataError, match="the file is empty"):
        Extraction(io.BytesIO(b""))
    with pytest.raises(DataError, match="not UTF-8"):
        Extraction(io.BytesIO(b"\xff\xfe\x00T\x00y\x00p\x00e\n"))


def test_header_names_are_compared_without_case_accents_or_suffix_and_bom_and_crlf_are_accepted() -> None:
    header = "\ufeff" + "|".join(c.upper().replace(" STRUCTURE BAL", "").replace("É", "E") for c in COLUMNS)
    text = (header + "\r\n" + row() + "\r\n").encode()
    _, rows = parse(text)
    assert rows == [(2, "jean.dupont@medecin.mssante.fr")]


def test_a_trailing_separator_in_the_header_is_expected_on_every_row() -> None:
    extraction, rows = parse(document(row() + "|", row(c1="b@x.mssante.fr"), header=HEADER + "|"))
    assert rows == [(2, "jean.dupont@medecin.mssante.fr")]
    assert [(r.line, r.reason) for r in extraction.report.invalid_rows] == [
        (3, "31 columns, expected 31 and a final separator")
    ]


def test_invalid_rows_are_reported_with_their_line_numbers_and_reasons() -> None:
    lines = [
        row(),  # 2
        "|".join(row().split("|")[:30]),  # 3: 30 columns
        row() + "|extra",  # 4: 32 columns
        row(c0="XYZ", c1="x@y.mssante.fr"),  # 5
        row(c1="not-an-address"),  # 6
        row(c1="a@b.mssante.fr", c3="1234"),  # 7: RPPS too short
        "",  # 8: blank, skipped
        row(c1="c@d.mssante.fr", c9="NUL\x00"),  # 9
        row(c1="ok@e.mssante.fr", c0=" org ", c2="", c3=""),  # 10: type trimmed and uppercased
        row(c1=""),  # 11
    ]
    extraction, rows = parse(document(*lines))
    assert rows == [(2, "jean.dupont@medecin.mssante.fr"), (10, "ok@e.mssante.fr")]
    assert [(r.line, r.reason) for r in extraction.report.invalid_rows] == [
        (3, "30 columns, expected 31"),
        (4, "32 columns, expected 31"),
        (5, "unknown mailbox type 'XYZ' (expected one of APP, CAB, ORG, PER)"),
        (6, "malformed address 'not-an-address'"),
        (7, "RPPS identifier '1234' is not 11 digits"),
        (9, "holds a NUL character"),
        (11, "no address"),
    ]
    assert (extraction.report.rows_read, extraction.report.invalid) == (9, 7)


def test_an_adeli_identifier_is_kept_without_rpps_and_a_person_without_identifier_is_valid() -> None:
    extraction = Extraction(
        io.BytesIO(document(row(c2="0", c3="691234567"), row(c1="x@medecin.mssante.fr", c2="", c3="", c4="")))
    )
    found = [data for _, data in extraction.rows()]
    assert [(d.id_type, d.pp_id, d.rpps) for d in found] == [("0", "691234567", None), ("", "", None)]


def test_bytes_that_are_not_utf8_refuse_their_row_only() -> None:
    text = document(row()) + row(c1="b@x.mssante.fr").encode().replace(b"DUPONT", b"DUP\xd4NT") + b"\n"
    text += row(c1="c@x.mssante.fr").encode() + b"\n"
    extraction, rows = parse(text)
    assert rows == [(2, "jean.dupont@medecin.mssante.fr"), (4, "c@x.mssante.fr")]
    [problem] = extraction.report.invalid_rows
    assert problem.line == 3
    assert problem.reason.startswith("not UTF-8: byte 0xd4 at offset ")


def test_a_huge_line_is_refused_without_being_held_in_memory() -> None:
    huge = b"PER|" + b"x" * (20 * MAX_LINE_BYTES * 64)  # 20 MiB without a newline
    text = document(row()) + huge + b"\n" + row(c1="after@x.mssante.fr").encode() + b"\n" + huge
    tracemalloc.start()
    try:
        extraction, rows = parse(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == [(2, "jean.dupont@medecin.mssante.fr"), (4, "after@x.mssante.fr")]
    assert [(r.line, r.reason) for r in extraction.report.invalid_rows] == [
        (3, f"line longer than {MAX_LINE_BYTES} bytes"),
        (5, f"line longer than {MAX_LINE_BYTES} bytes"),
    ]
    assert peak < 1 << 20


def test_an_oversized_field_is_refused() -> None:
    extraction, rows = parse(document(row(c7="S" * 600)))
    assert rows == []
    assert extraction.report.invalid_rows[0].reason == (
        "column 8 (Service de rattachement) is longer than 500 characters"
    )


def test_duplicates_are_yielded_in_order_counted_and_named_so_the_last_row_wins() -> None:
    extraction, rows = parse(
        document(row(), row(c1="other@x.mssante.fr"), row(c1="JEAN.DUPONT@medecin.mssante.fr", c9="DUPOND"))
    )
    assert rows == [
        (2, "jean.dupont@medecin.mssante.fr"),
        (3, "other@x.mssante.fr"),
        (4, "jean.dupont@medecin.mssante.fr"),
    ]
    assert extraction.duplicated == {"jean.dupont@medecin.mssante.fr"}
    assert extraction.report.duplicates == 1
    assert [(r.line, r.reason) for r in extraction.report.duplicate_rows] == [
        (2, "jean.dupont@medecin.mssante.fr again at line 4")
    ]


@pytest.mark.parametrize(("invalid", "refused"), [(1, False), (2, True)])
def test_a_mostly_invalid_file_is_refused_above_the_ratio(invalid: int, refused: bool) -> None:
    report = ParseReport(rows_read=10, invalid=invalid)
    if refused:
        with pytest.raises(DataError, match=r"2 of 10 rows are invalid \(20.0% > 10.0% allowed\)"):
            report.check(0.1)
    else:
        report.check(0.1)


def test_a_file_without_rows_or_without_valid_rows_is_refused() -> None:
    with pytest.raises(DataError, match="no rows"):
        ParseReport().check(0.1)
    with pytest.raises(DataError, match="1 of 1 rows are invalid"):
        ParseReport(rows_read=1, invalid=1).check(1.0)


def test_the_text_member_of_a_zip_is_read_as_a_stream(tmp_path: Path) -> None:
    path = tmp_path / "Extraction_Correspondance_MSSante.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Extraction_Correspondance_MSSante_202608261013.txt", document(row()))
    with open_extraction(path) as (stream, name):
        extraction = Extraction(stream, name)
        assert [line for line, _ in extraction.rows()] == [2]
    assert name == "Extraction_Correspondance_MSSante_202608261013.txt"
    assert file_date(name) == datetime(2026, 8, 26, 10, 13, tzinfo=ZoneInfo("Europe/Paris"))


def test_a_zip_without_exactly_one_text_member_or_damaged_is_refused(tmp_path: Path) -> None:
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.txt", document(row()))
        archive.writestr("b.txt", document(row()))
    with pytest.raises(DataError, match=r"expected one \.txt file in the zip, found 2"), open_extraction(two):
        pass
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(DataError, match="not a readable zip"), open_extraction(damaged):
        pass


def test_a_plain_text_file_is_read_as_is(tmp_path: Path) -> None:
    path = tmp_path / "extraction.txt"
    path.write_bytes(document(row()))
    with open_extraction(path) as (stream, name):
        assert name == "extraction.txt"
        assert [line for line, _ in Extraction(stream, name).rows()] == [2]
    assert file_date(name) is None


@pytest.mark.parametrize(
    ("line", "postal", "expected"),
    [
        ("75002 PARIS", "", ("75002", "PARIS")),
        ("69437 LYON CEDEX 03", "69437", ("69437", "LYON")),
        ("13385  MARSEILLE  CEDEX", "", ("13385", "MARSEILLE")),
        ("SAINT-DENIS", "97400", ("97400", "SAINT-DENIS")),
        ("", "", ("", "")),
    ],
)
def test_postal_code_and_city_come_from_the_routing_line(
    line: str, postal: str, expected: tuple[str, str]
) -> None:
    assert postal_and_city(line, postal) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("LEFÈVRE", "lefevre"),
        ("Jean-Marie  d'Œillet", "jean marie d oeillet"),
        ("Chirurgien-Dentiste", "chirurgien dentiste"),
        ("SAINT-ÉTIENNE", "saint etienne"),
        ("Straße Ægir", "strasse aegir"),
        ("  ", ""),
        ("Ζήτα 12", "12"),
    ],
)
def test_search_keys_ignore_case_accents_and_punctuation(text: str, key: str) -> None:
    assert search_key(text) == key


@pytest.mark.parametrize(
    "address", ["a@b.fr", "jean-marie.dupont@medecin.mssante.fr", "x+y@a-b.c.fr", "o'neil@x.fr", "a@b.c2"]
)
def test_plain_addresses_are_valid(address: str) -> None:
    assert valid_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "a@b", ".a@b.fr", "a.@b.fr", "a..b@c.fr", "a@-b.fr", "a@b-.fr", "a@b.-c.fr", "a@b.fr-", "a@b.1fr",
        "a b@c.fr", "a@b..fr", "@b.fr", "a@", "x" * 65 + "@b.fr", "a@b.fr.", "A@b.fr", "é@b.fr", "a@b_c.fr",
        "a@" + "b" * 250 + ".fr",
    ],
)  # fmt: skip
def test_malformed_addresses_are_not(address: str) -> None:
    assert not valid_address(address)
