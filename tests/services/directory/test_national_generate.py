"""Synthetic extractions: deterministic, valid where meant to be, broken exactly where reported."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from mss.directory.national.__main__ import main
from mss.directory.national.extraction import Extraction, open_extraction
from mss.directory.national.generate import generate


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_seed_gives_the_same_bytes_and_another_seed_other_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "a.zip", 2000, seed=7, zipped=True)
    generate(tmp_path / "b.zip", 2000, seed=7, zipped=True)
    generate(tmp_path / "c.zip", 2000, seed=8, zipped=True)
    assert digest(tmp_path / "a.zip") == digest(tmp_path / "b.zip")
    assert digest(tmp_path / "a.zip") != digest(tmp_path / "c.zip")


def test_generated_rows_are_valid_realistic_and_unique(tmp_path: Path) -> None:
    made = generate(tmp_path / "x.zip", 5000, seed=1, zipped=True)
    with open_extraction(made.path) as (stream, name):
        extraction = Extraction(stream, name)
        rows = [data for _, data in extraction.rows()]
    assert name == made.member == "Extraction_Correspondance_MSSante_202601150400.txt"
    assert extraction.report.invalid == 0
    assert len({r.address for r in rows}) == len(rows) == made.rows == 5000
    assert made.personal + made.organisational == 5000
    assert 0.10 < made.organisational / 5000 < 0.20
    professions = {(r.profession_code, r.profession_label) for r in rows if r.type == "PER"}
    assert {
        ("10", "Médecin"),
        ("40", "Chirurgien-Dentiste"),
        ("21", "Pharmacien"),
        ("60", "Infirmier"),
    } <= professions
    assert {("70", "Masseur-Kinésithérapeute"), ("50", "Sage-Femme")} <= professions
    people = [r for r in rows if r.type == "PER"]
    assert all(r.rpps and len(r.rpps) == 11 and r.national_id == "8" + r.rpps for r in people)
    assert all(r.last_name and r.first_name and r.city and len(r.postal_code) == 5 for r in people)
    assert any("é" in r.first_name.lower() or "è" in r.last_name.lower() for r in people)
    services = [r for r in rows if r.type == "ORG"]
    assert all(r.service and r.structure_name and not r.rpps for r in services)


def test_broken_rows_and_repeated_addresses_are_where_the_report_says(tmp_path: Path) -> None:
    made = generate(tmp_path / "x.txt", 3000, seed=3, invalid_ratio=0.05, duplicate_ratio=0.01)
    with open_extraction(made.path) as (stream, name):
        extraction = Extraction(stream, name)
        kept = sum(1 for _ in extraction.rows())
    assert 100 < made.broken < 200
    assert [r.line for r in extraction.report.invalid_rows] == made.broken_lines[:20]
    assert extraction.report.invalid == made.broken
    assert extraction.report.duplicates == made.duplicates > 0
    assert kept == made.rows - made.broken


def test_535k_rows_are_written_in_seconds(tmp_path: Path) -> None:
    started = time.monotonic()
    made = generate(tmp_path / "full.txt", 535_000, seed=0)
    elapsed = time.monotonic() - started
    assert made.rows == 535_000
    assert made.path.stat().st_size > 100_000_000
    assert elapsed < 60, f"{elapsed:.1f} s"


def test_the_command_line_writes_a_zip(tmp_path: Path) -> None:
    out = tmp_path / "cli.zip"
    assert main(["generate", "--rows", "100", "--out", str(out), "--zip", "--seed", "5"]) == 0
    with open_extraction(out) as (stream, name):
        assert sum(1 for _ in Extraction(stream, name).rows()) == 100
