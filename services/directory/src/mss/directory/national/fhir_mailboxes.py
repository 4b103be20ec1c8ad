"""MSSanté mailboxes of Annuaire Santé FHIR resources (R-DIR-2), as directory entries.

A mailbox is a ``telecom`` with ``system = email`` marked MSSanté: the fr-core email-type extension
with code ``MSSANTE`` (TRE_R256-TypeMessagerie), or the ``as-ext-mailbox-mss-metadata`` extension,
which only mailboxes carry. The metadata gives the mailbox type (TRE_R257) and its service; a
mailbox on the red list (``listeRouge``) or whose ``period`` has ended is left out.

- ``Practitioner``: a person (PER) with its RPPS, name, civility, profession and speciality;
- ``PractitionerRole``: a person's mailbox at a structure (profession, speciality, structure name);
- ``Organization``: an organisation's mailbox (ORG or APP) with its structure identifier and address.

Fields a resource does not give stay empty: the importer keeps what the directory already knew.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mss.directory.national.entries import TYPES, EntryData, valid_address

RESOURCES = ("Practitioner", "PractitionerRole", "Organization")
MSSANTE = "MSSANTE"
_EMAIL_TYPE = "email-type"  # fr-core-contact-point-email-type (and the older fr-core-email-type)
_METADATA = "as-ext-mailbox-mss-metadata"
_RPPS_SYSTEM = "https://rpps.esante.gouv.fr"
_IDNPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
_IDNST_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2"
_FINESS_SYSTEM = "https://finess.esante.gouv.fr"
_PROFESSION = ("TRE_G15", "TRE-G15")
_SPECIALITY = ("TRE_R38", "TRE-R38")

Json = dict[str, Any]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _codings(concepts: Any) -> list[Json]:
    """The codings of a CodeableConcept or a list of them."""
    items = concepts if isinstance(concepts, list) else [concepts]
    return [_dict(c) for item in items for c in _list(_dict(item).get("coding"))]


def _coded(concepts: Any, systems: tuple[str, ...]) -> tuple[str, str]:
    """(code, display) of the first coding from one of ``systems`` (matched as substrings)."""
    for coding in _codings(concepts):
        if any(s in _text(coding.get("system")) for s in systems) and _text(coding.get("code")):
            return _text(coding.get("code")), _text(coding.get("display"))
    return "", ""


def _ended(telecom: Json, now: datetime) -> bool:
    end = _text(_dict(telecom.get("period")).get("end"))
    if not end:
        return False
    try:
        moment = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return False
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) <= now


def _mailbox(telecom: Json) -> tuple[str, str, str] | None:
    """(address, type, service) of an MSSanté telecom, or None when it is not a published mailbox."""
    if _text(telecom.get("system")) != "email":
        return None
    marked, kind, service = False, "", ""
    for extension in map(_dict, _list(telecom.get("extension"))):
        url = _text(extension.get("url"))
        if url.endswith(_EMAIL_TYPE) and _text(_dict(extension.get("valueCoding")).get("code")) == MSSANTE:
            marked = True
        elif url.endswith(_METADATA):
            marked = True
            for part in map(_dict, _list(extension.get("extension"))):
                name = _text(part.get("url")).rsplit("/", 1)[-1]
                if name == "type":
                    kind = _coded(part.get("valueCodeableConcept"), ("",))[0].upper()
                elif name == "service":
                    service = _text(part.get("valueString"))
                elif name == "listeRouge" and part.get("valueBoolean") is True:
                    return None
    address = _text(telecom.get("value")).lower()
    if not marked or not valid_address(address) or _ended(telecom, datetime.now(UTC)):
        return None
    return address, kind if kind in TYPES else "", service


def _person(resource: Json) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for identifier in map(_dict, _list(resource.get("identifier"))):
        system, value = _text(identifier.get("system")), _text(identifier.get("value"))
        types = {_text(c.get("code")) for c in _codings(identifier.get("type"))}
        if (system == _RPPS_SYSTEM or "RPPS" in types) and len(value) == 11 and value.isdigit():
            fields["rpps"] = value
        elif system == _IDNPS_SYSTEM and len(value) == 12 and value.startswith("8") and value[1:].isdigit():
            fields.setdefault("rpps", value[1:])
    if "rpps" in fields:
        fields |= {"id_type": "8", "pp_id": fields["rpps"], "national_id": "8" + fields["rpps"]}
    names = [_dict(n) for n in _list(resource.get("name"))]
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    fields["last_name"] = _text(name.get("family"))
    fields["first_name"] = " ".join(_text(g) for g in _list(name.get("given")) if _text(g))
    fields["civility"] = next((_text(p) for p in _list(name.get("prefix")) if _text(p)), "")
    qualifications = [_dict(q).get("code") for q in _list(resource.get("qualification"))]
    fields["profession_code"], fields["profession_label"] = _coded(qualifications, _PROFESSION)
    fields["speciality_code"], fields["speciality_label"] = _coded(qualifications, _SPECIALITY)
    return fields


def _role(resource: Json) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    fields["profession_code"], fields["profession_label"] = _coded(resource.get("code"), _PROFESSION)
    fields["speciality_code"], fields["speciality_label"] = _coded(resource.get("specialty"), _SPECIALITY)
    fields["structure_name"] = _text(_dict(resource.get("organization")).get("display"))
    return fields


def _organization(resource: Json) -> dict[str, Any]:
    fields: dict[str, Any] = {"structure_name": _text(resource.get("name"))}
    for identifier in map(_dict, _list(resource.get("identifier"))):
        system, value = _text(identifier.get("system")), _text(identifier.get("value"))
        if system == _IDNST_SYSTEM and value:
            fields["structure_id_type"], fields["structure_id"] = value[0], value
            break
        if system == _FINESS_SYSTEM and value:
            fields["structure_id_type"], fields["structure_id"] = "1", "1" + value
    address = next(map(_dict, _list(resource.get("address"))), {})
    fields["postal_code"] = _text(address.get("postalCode"))
    fields["city"] = _text(address.get("city")).upper()
    fields["country"] = _text(address.get("country"))
    return fields


_READERS = {"Practitioner": _person, "PractitionerRole": _role, "Organization": _organization}
DEFAULT_TYPES = {"Practitioner": "PER", "PractitionerRole": "PER", "Organization": "ORG"}
"""The type of a resource's mailbox when its metadata does not say (and the directory does not know)."""


def mailboxes(resource: Json) -> list[EntryData]:
    """The published MSSanté mailboxes of a Practitioner, PractitionerRole or Organization.

    ``type`` is empty when the mailbox's metadata does not give it (see :data:`DEFAULT_TYPES`).
    """
    read = _READERS.get(_text(resource.get("resourceType")))
    if read is None:
        return []
    found = [m for m in map(_mailbox, map(_dict, _list(resource.get("telecom")))) if m is not None]
    if not found:
        return []
    fields = read(resource)
    return [
        EntryData(address, kind, **(fields | ({"service": service} if service else {})))
        for address, kind, service in found
    ]


def merge(known: EntryData | None, update: EntryData, default_type: str) -> EntryData:
    """``update`` completed by what the directory ``known``: a field the API leaves empty is kept."""
    if known is None:
        return update._replace(type=update.type or default_type)
    values = [new if new not in ("", None) else old for new, old in zip(update, known, strict=True)]
    return EntryData._make(values)._replace(type=update.type or known.type or default_type)
