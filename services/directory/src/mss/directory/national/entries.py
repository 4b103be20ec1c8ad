"""One mailbox of the national directory: its fields, its search keys, its database columns."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from mss.directory.national.keys import search_key

TYPES = frozenset({"PER", "ORG", "APP", "CAB"})
"""Mailbox types (R-BAL-1); the extraction has PER and ORG rows only."""
RPPS_ID_TYPES = frozenset({"8", "RPPS"})
"""Values of "Type Identifiant PP" meaning the identifier is an RPPS number."""
MAX_ADDRESS_CHARS = 254
_ADDRESS = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{}~-]++(?:\.[a-z0-9!#$%&'*+/=?^_`{}~-]++)*+@(?:[a-z0-9-]++\.)++[a-z][a-z0-9-]*+"
)


def valid_address(address: str) -> bool:
    """True for a lowercase ASCII ``local@domain``: dot-atom local part of at most 64 characters,
    domain labels not starting or ending with ``-``, a top-level label starting with a letter."""
    if len(address) > MAX_ADDRESS_CHARS or _ADDRESS.fullmatch(address) is None:
        return False
    at = address.index("@")
    return (
        at <= 64
        and address[at + 1] != "-"
        and address[-1] != "-"
        and "-." not in address[at:]
        and ".-" not in address[at:]
    )


class EntryData(NamedTuple):
    """What the directory says of one mailbox (from a row of the extraction or from the FHIR API)."""

    address: str
    type: str
    id_type: str = ""
    pp_id: str = ""
    national_id: str = ""
    rpps: str | None = None
    structure_id_type: str = ""
    structure_id: str = ""
    service: str = ""
    civility: str = ""
    last_name: str = ""
    first_name: str = ""
    profession_code: str = ""
    profession_label: str = ""
    speciality_code: str = ""
    speciality_label: str = ""
    structure_name: str = ""
    postal_code: str = ""
    city: str = ""
    department: str = ""
    country: str = ""


@dataclass(frozen=True, slots=True)
class NationalEntry:
    """A mailbox of the version in force of the national directory."""

    version_id: int
    address: str
    type: str
    id_type: str
    pp_id: str
    national_id: str
    rpps: str | None
    structure_id_type: str
    structure_id: str
    service: str
    civility: str
    last_name: str
    first_name: str
    profession_code: str
    profession_label: str
    speciality_code: str
    speciality_label: str
    structure_name: str
    postal_code: str
    city: str
    department: str
    country: str

    @classmethod
    def from_row(cls, row: Any) -> NationalEntry:
        """From a database row holding (at least) :data:`ENTRY_COLUMNS`."""
        return cls(**{name: row[name] for name in ENTRY_COLUMNS})


KEY_COLUMNS = ("name_key", "alt_key", "profession_key", "city_key")
ENTRY_COLUMNS = ("version_id", *EntryData._fields)
COPY_COLUMNS = ("version_id", "line", *EntryData._fields, *KEY_COLUMNS)
"""Columns of :func:`record`, in order."""


def keys(data: EntryData) -> tuple[str, str, str, str]:
    """Search keys: (name, alternative name, profession, city).

    A person is found by "last first" (name) or "first last" (alternative); an organisation by its
    structure name (name) or its service (alternative).
    """
    if data.type in ("PER", "CAB") and (data.last_name or data.first_name):
        last, first = search_key(data.last_name), search_key(data.first_name)
        name, alt = f"{last} {first}".strip(), f"{first} {last}".strip()
    else:
        name, alt = search_key(data.structure_name), search_key(data.service)
    return name, alt, search_key(data.profession_label), search_key(data.city)


def record(version_id: int, line: int, data: EntryData) -> tuple[Any, ...]:
    """The row to store, in :data:`COPY_COLUMNS` order."""
    return (version_id, line, *data, *keys(data))


_ROUTING = re.compile(r"^(\d{5})\s+(.*)$")
_CEDEX = re.compile(r"\s+CEDEX(\s+\d{1,3})?$", re.IGNORECASE)


@lru_cache(maxsize=1 << 16)
def postal_and_city(routing_line: str, postal_code: str = "") -> tuple[str, str]:
    """(postal code, city) from a French address's last line (L6, "ligne d'acheminement").

    "75002 PARIS" gives ("75002", "PARIS"); "69437 LYON CEDEX 03" gives ("69437", "LYON"). The
    postal code column wins over the one in the line when both are given.
    """
    line = " ".join(routing_line.split())
    match = _ROUTING.match(line)
    if match:
        postal_code = postal_code or match.group(1)
        line = match.group(2)
    return postal_code, _CEDEX.sub("", line)
