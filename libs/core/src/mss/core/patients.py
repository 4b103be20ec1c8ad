"""Patients are never stored by identifier: the audit trail keeps a keyed hash (HMAC-SHA256) of the
patient identifier (INS) read from a message's IHE XDM metadata, and searches hash what they are
given with the same key."""

from __future__ import annotations

import hashlib
import hmac
import re

INS_OIDS = ("1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.10")
"""INS-NIR and INS-NIA, the assigning authorities of the national health identifier."""
_DIGITS = re.compile(r"^[0-9]{13,15}$")


def patient_hash(key: bytes, patient: str) -> str:
    """The keyed hash recorded for a patient identifier, hex."""
    return hmac.new(key, patient.strip().encode(), hashlib.sha256).hexdigest()


def search_hashes(key: bytes, patient: str) -> list[str]:
    """The hashes to look for: the identifier as typed and, for a bare INS, its XDS forms
    (``<INS>^^^&<OID>&ISO``), as documents carry it."""
    patient = patient.strip()
    forms = [patient]
    if _DIGITS.match(patient):
        forms += [f"{patient}^^^&{oid}&ISO" for oid in INS_OIDS]
    return [patient_hash(key, form) for form in forms]
