"""Synthetic extraction files: realistic rows, deterministic for a seed, any size, streamed to disk.

About 85 % personal mailboxes (people with an RPPS, their profession, speciality and place of
practice, on their profession's national domain or their establishment's) and 15 % organisational
ones (the services of hospitals, clinics, health centres). A fraction of rows can be broken on
purpose (wrong column count, unknown type, address without ``@``, short RPPS) or repeat the previous
address, to exercise validation and the duplicate rule.
"""

from __future__ import annotations

import random
import zipfile
from bisect import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import IO

from mss.directory.national.extraction import HEADER
from mss.directory.national.keys import search_key
from mss.directory.national.synthetic import (
    CITIES,
    FEMININE,
    FIRST_NAMES,
    FLOWERS,
    LAST_NAMES,
    PROFESSIONS,
    SAINTS,
    SERVICES,
    STREET_NAMES,
    STREET_TYPES,
    STRUCTURES,
)

DEFAULT_STAMP = "202601150400"
"""Generation time put in the member name (``Extraction_Correspondance_MSSante_<stamp>.txt``)."""
ORG_SHARE = 0.15
BROKEN_KINDS = ("30 columns", "32 columns", "unknown type", "address without @", "short RPPS")


@dataclass
class GenerateReport:
    """What was written."""

    path: Path
    member: str
    rows: int = 0
    personal: int = 0
    organisational: int = 0
    broken: int = 0
    duplicates: int = 0
    broken_lines: list[int] = field(default_factory=list)
    """Line numbers (header = 1) of the broken rows."""


@dataclass(frozen=True)
class _Structure:
    name: str
    domain: str
    id_type: str
    ident: str
    address: tuple[str, ...]
    """L2 … department, country: the 13 last columns."""
    hospital: bool
    pharmacy: bool


def _slug(text: str) -> str:
    return search_key(text).replace(" ", "-")


_FIRST = [(name, _slug(name)) for name in FIRST_NAMES]
_LAST = [(name, _slug(name)) for name in LAST_NAMES]


class _Rows:
    """Draws rows from a seeded random generator."""

    def __init__(self, seed: int, count: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 (synthetic data, reproducible)
        self.weights = list(accumulate(p[2] for p in PROFESSIONS))
        self.structure_weights = list(accumulate(s[3] for s in STRUCTURES))
        self.domains: set[str] = {""}
        self.structures = [self._structure(n) for n in range(max(50, count // 25))]
        self.hospitals = [s for s in self.structures if s.hospital] or self.structures
        self.pharmacies = [s for s in self.structures if s.pharmacy] or self.structures
        self.practices = [s for s in self.structures if not s.pharmacy]
        self.used: dict[str, int] = {}
        self.rpps = 10000000000 + self.rng.randrange(10**8)

    def _structure(self, number: int) -> _Structure:
        rng = self.rng
        pick = bisect(self.structure_weights, rng.random() * self.structure_weights[-1])
        kind, pattern, domain_pattern, _ = STRUCTURES[pick]
        postal, city, department, cedex = rng.choice(CITIES)
        street_type, street_name = rng.choice(STREET_TYPES), rng.choice(STREET_NAMES)
        saint, flower = rng.choice(SAINTS), rng.choice(FLOWERS)
        of_city = f"D'{city}" if city[0] in "AEIOUÉ" else f"DE {city}"
        name = pattern.format(of_city=of_city, street=street_name, saint=saint, flower=flower)
        domain = domain_pattern.format(slug=_slug(city), saint_slug=_slug(saint), flower_slug=_slug(flower))
        if domain in self.domains:
            domain = domain.replace(".mssante.fr", f"-{number}.mssante.fr")
        self.domains.add(domain)
        hospital = kind in ("CHU", "CH", "CLINIQUE")
        if hospital and rng.random() < 0.5:
            postal = cedex
            routing = f"{cedex} {city} CEDEX" + (f" {rng.randint(1, 9)}" if rng.random() < 0.5 else "")
        else:
            routing = f"{postal} {city}"
        if kind in ("CABINET", "PHARMACIE"):
            id_type, ident = "3", f"3{rng.randrange(10**14):014d}"
        else:
            id_type, ident = "1", f"1{department[:2].replace('A', '0')}{rng.randrange(10**7):07d}"
        number_in_street = str(rng.randint(1, 120))
        complement = "BIS" if rng.random() < 0.1 else ""
        lines = ("", "", number_in_street, complement, street_type, street_name, "", routing, postal)
        return _Structure(
            name, domain, id_type, ident, (*lines, department, "FRANCE"), hospital, kind == "PHARMACIE"
        )

    def _unique(self, local: str, domain: str) -> str:
        base = f"{local}@{domain}"
        count = self.used.get(base, 0) + 1
        self.used[base] = count
        return base if count == 1 else f"{local}{count}@{domain}"

    def personal(self) -> list[str]:
        draw = self.rng.random
        profession = PROFESSIONS[bisect(self.weights, draw() * self.weights[-1])]
        code, label, _, national, civility, specialities = profession
        first, first_slug = _FIRST[int(draw() * len(_FIRST))]
        last, last_slug = _LAST[int(draw() * len(_LAST))]
        places = self.practices if code != "21" else self.pharmacies if draw() < 0.7 else self.hospitals
        structure = places[int(draw() * len(places))]
        domain = structure.domain if structure.domain and draw() < 0.3 else national
        address = self._unique(f"{first_slug}.{last_slug}", domain)
        self.rpps += 1 + int(draw() * 40)
        rpps = str(self.rpps)
        speciality = specialities[int(draw() * len(specialities))] if specialities else ("", "")
        civility = civility or ("MME" if first in FEMININE else "M")
        service = SERVICES[int(draw() * len(SERVICES))][1] if structure.hospital else ""
        # fmt: off
        return ["PER", address, "8", rpps, f"8{rpps}", structure.id_type, structure.ident, service,
                civility, last, first, "C", "Civil", code, label, *speciality, "", structure.name, "",
                *structure.address]
        # fmt: on

    def organisational(self) -> list[str]:
        draw, hospitals = self.rng.random, self.hospitals
        structure = hospitals[int(draw() * len(hospitals))]
        local, service = SERVICES[int(draw() * len(SERVICES))]
        address = self._unique(local, structure.domain or "structure.mssante.fr")
        # fmt: off
        return ["ORG", address, "", "", "", structure.id_type, structure.ident, service, "", "", "", "", "",
                "", "", "", "", "", structure.name, "", *structure.address]
        # fmt: on


def _break(fields: list[str], kind: int) -> list[str]:
    if kind == 0:
        return fields[:-1]
    if kind == 1:
        return [*fields, "extra"]
    if kind == 2:
        return ["XYZ", *fields[1:]]
    if kind == 3:
        return [fields[0], fields[1].replace("@", "."), *fields[2:]]
    return [*fields[:2], "8", "1234", *fields[4:]]


def lines(
    rows: int, *, seed: int = 0, invalid_ratio: float = 0.0, duplicate_ratio: float = 0.0
) -> Iterator[tuple[str, str]]:
    """(kind, line without newline) of ``rows`` data rows; kind is PER, ORG, BROKEN or DUP."""
    draw = _Rows(seed, rows)
    rng = random.Random(seed + 1)  # noqa: S311
    previous = ""
    for _ in range(rows):
        organisational = rng.random() < ORG_SHARE
        fields = draw.organisational() if organisational else draw.personal()
        kind = "ORG" if organisational else "PER"
        chance = rng.random()
        if chance < invalid_ratio:
            fields, kind = _break(fields, rng.randrange(len(BROKEN_KINDS))), "BROKEN"
        elif previous and chance < invalid_ratio + duplicate_ratio:
            fields[1], kind = previous, "DUP"
        if kind != "BROKEN":
            previous = fields[1]
        yield kind, "|".join(fields)


def generate(
    out: Path,
    rows: int,
    *,
    seed: int = 0,
    zipped: bool = False,
    invalid_ratio: float = 0.0,
    duplicate_ratio: float = 0.0,
    stamp: str = DEFAULT_STAMP,
) -> GenerateReport:
    """Write an extraction of ``rows`` data rows to ``out`` (a zip holding the text when ``zipped``)."""
    member = f"Extraction_Correspondance_MSSante_{stamp}.txt"
    report = GenerateReport(out, member)
    if zipped:
        info = zipfile.ZipInfo(member, date_time=(2026, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with zipfile.ZipFile(out, "w") as archive, archive.open(info, "w", force_zip64=True) as stream:
            _write(stream, rows, seed, invalid_ratio, duplicate_ratio, report)
    else:
        with out.open("wb") as stream:
            _write(stream, rows, seed, invalid_ratio, duplicate_ratio, report)
    return report


def _write(
    stream: IO[bytes],
    rows: int,
    seed: int,
    invalid_ratio: float,
    duplicate_ratio: float,
    report: GenerateReport,
) -> None:
    write = stream.write
    write((HEADER + "\n").encode())
    chunk: list[str] = []
    drawn = lines(rows, seed=seed, invalid_ratio=invalid_ratio, duplicate_ratio=duplicate_ratio)
    for number, (kind, line) in enumerate(drawn, start=2):
        report.rows += 1
        if kind == "BROKEN":
            report.broken += 1
            report.broken_lines.append(number)
        elif kind == "DUP":
            report.duplicates += 1
        elif kind == "PER":
            report.personal += 1
        else:
            report.organisational += 1
        chunk.append(line)
        if len(chunk) >= 10_000:
            write(("\n".join(chunk) + "\n").encode())
            chunk.clear()
    if chunk:
        write(("\n".join(chunk) + "\n").encode())
