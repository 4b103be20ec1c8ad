"""FHIR resources as the Annuaire Santé API serves them (shapes of the IG examples), for the tests."""

from __future__ import annotations

from typing import Any

EMAIL_TYPE = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type"
METADATA = "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-mailbox-mss-metadata"
TYPE_MESSAGERIE = "https://mos.esante.gouv.fr/NOS/TRE_R256-TypeMessagerie/FHIR/TRE-R256-TypeMessagerie"
TYPE_BAL = "https://mos.esante.gouv.fr/NOS/TRE_R257-TypeBAL/FHIR/TRE-R257-TypeBAL"
G15 = "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
R38 = "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"


def mailbox(address: str, kind: str | None = "PER", **metadata: Any) -> dict[str, Any]:
    """An MSSanté telecom; ``metadata`` adds sub-extensions (service="…", listeRouge=True)."""
    parts: list[dict[str, Any]] = []
    if kind:
        parts.append(
            {"url": "type", "valueCodeableConcept": {"coding": [{"system": TYPE_BAL, "code": kind}]}}
        )
    for name, value in metadata.items():
        key = "valueBoolean" if isinstance(value, bool) else "valueString"
        parts.append({"url": name, key: value})
    return {
        "system": "email",
        "value": address,
        "extension": [
            {"url": EMAIL_TYPE, "valueCoding": {"system": TYPE_MESSAGERIE, "code": "MSSANTE"}},
            {"url": METADATA, "extension": parts},
        ],
    }


def practitioner(rpps: str, family: str, given: str, *telecom: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": f"003-{rpps}",
        "identifier": [
            {"system": "urn:oid:1.2.250.1.71.4.2.1", "value": f"8{rpps}"},
            {"system": "https://rpps.esante.gouv.fr", "value": rpps},
        ],
        "name": [{"use": "official", "family": family, "given": [given], "prefix": ["DR"]}],
        "telecom": [{"system": "phone", "value": "0102030405"}, *telecom],
        "qualification": [{"code": {"coding": [{"system": G15, "code": "10", "display": "Médecin"}]}}],
    }


def role(*telecom: dict[str, Any], organization: str = "CLINIQUE DU PARC") -> dict[str, Any]:
    return {
        "resourceType": "PractitionerRole",
        "id": "role-1",
        "practitioner": {"reference": "Practitioner/003-10000000001"},
        "organization": {"reference": "Organization/1", "display": organization},
        "code": [{"coding": [{"system": G15, "code": "10", "display": "Médecin"}]}],
        "specialty": [{"coding": [{"system": R38, "code": "SM42", "display": "Psychiatrie"}]}],
        "telecom": list(telecom),
    }


def organization(finess: str, name: str, *telecom: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": f"org-{finess}",
        "identifier": [{"system": "https://finess.esante.gouv.fr", "value": finess}],
        "name": name,
        "address": [{"line": ["1 RUE DU PORT"], "postalCode": "29200", "city": "Brest", "country": "FRA"}],
        "telecom": list(telecom),
    }
