"""Audit request exports: the selected timelines as JSON and as CSV, in a zip with a manifest (each
file's SHA-256, who exported, when, why) signed with the service's Ed25519 key. Anyone holding the
public key (``GET /api/v1/exports/key``) can check that nothing was changed: :func:`check`."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from mss.core.errors import DataError

CSV_COLUMNS = (
    "message_id",
    "at",
    "service",
    "event",
    "recipient",
    "status",
    "reply",
    "reason",
    "rule",
    "policy_version",
    "trust_list_version",
    "directory_version",
    "next_hop",
    "attempt",
    "tls_version",
    "cipher",
    "peer_subject_dn",
    "patient_hash",
    "trace_id",
    "hash",
)


class Signer:
    """The export signing key (an Ed25519 private key in PEM, PKCS#8, unencrypted)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self.key = key
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    @classmethod
    def load(cls, path: Path) -> Signer:
        """Read the key file; DataError when it is not an Ed25519 private key."""
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise DataError(f"cannot read the export signing key {path}: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise DataError(f"the export signing key {path} is not an Ed25519 key")
        return cls(key)

    def public_pem(self) -> bytes:
        """The public key, PEM (SubjectPublicKeyInfo)."""
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (CSV injection): such text cells get a leading
apostrophe, which spreadsheets show as text. The JSON file keeps every value as it is."""


def cell(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv(timelines: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for timeline in timelines:
        for event in timeline["events"]:
            tls = event.get("tls") or {}
            row = {
                **event,
                "message_id": timeline["message_id"],
                "tls_version": tls.get("tls_version", ""),
                "cipher": tls.get("cipher", ""),
                "peer_subject_dn": tls.get("subject_dn", ""),
            }
            writer.writerow([cell(row.get(column, "")) for column in CSV_COLUMNS])
    return out.getvalue().encode()


def bundle(signer: Signer, timelines: list[dict[str, Any]], by: str, purpose: str) -> bytes:
    """The signed zip."""
    files = {
        "timelines.json": json.dumps({"timelines": timelines}, ensure_ascii=False, indent=1).encode(),
        "timelines.csv": _csv(timelines),
    }
    manifest = json.dumps(
        {
            "exported_at": datetime.now(UTC).isoformat(),
            "exported_by": by,
            "purpose": purpose,
            "messages": [t["message_id"] for t in timelines],
            "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
            "signature": {"algorithm": "Ed25519", "key_id": signer.key_id, "file": "manifest.sig"},
        },
        ensure_ascii=False,
        indent=1,
    ).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("manifest.json", manifest)
        archive.writestr("manifest.sig", base64.b64encode(signer.key.sign(manifest)) + b"\n")
    return out.getvalue()


def check(data: bytes, public_pem: bytes) -> dict[str, Any]:
    """The manifest of a bundle whose signature and files hold; DataError naming what does not."""
    key = serialization.load_pem_public_key(public_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise DataError("not an Ed25519 public key")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            manifest = archive.read("manifest.json")
            signature = base64.b64decode(archive.read("manifest.sig"))
            key.verify(signature, manifest)
            described = json.loads(manifest)
            for name, digest in described["files"].items():
                if hashlib.sha256(archive.read(name)).hexdigest() != digest:
                    raise DataError(f"{name} was changed after it was signed")
    except InvalidSignature as exc:
        raise DataError("the manifest's signature does not hold") from exc
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DataError(f"not an audit export: {exc}") from exc
    return dict(described)
