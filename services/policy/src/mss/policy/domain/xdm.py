"""IHE XDM attachments (R-MSG-3): find ``IHE_XDM.ZIP``, check its layout, read the patient.

An XDM archive holds ``IHE_XDM/SUBSETnn/METADATA.XML`` (ebRIM) beside the documents; the patient
is the ``patientId`` of the document entries (the INS: ``matricule^^^&OID&ISO``), one per message.
Everything is read in memory within bounds, so that a hostile archive (zip bomb, thousands of
entries, entity expansion) is reported as malformed instead of exhausting the service.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from email import message_from_bytes, policy

import defusedxml.ElementTree as SafeXml
from defusedxml import DefusedXmlException

ARCHIVE_NAME = "ihe_xdm.zip"
PATIENT_ID_SCHEME = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"  # XDSDocumentEntry.patientId
_RIM = "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}"


@dataclass(frozen=True)
class Limits:
    """What an archive may hold before it is called malformed."""

    archive_bytes: int = 30 * 1024 * 1024
    entries: int = 1000
    unpacked_bytes: int = 200 * 1024 * 1024
    ratio: int = 100  # unpacked / packed size of one entry
    metadata_bytes: int = 5 * 1024 * 1024


@dataclass
class XdmReport:
    """What the message's XDM archives say."""

    archives: int = 0
    problems: list[str] = field(default_factory=list)
    patients: set[str] = field(default_factory=set)
    documents: int = 0

    @property
    def malformed(self) -> bool:
        """True when an archive breaks the layout or names several patients."""
        return bool(self.problems)


def _patients(metadata: bytes) -> tuple[set[str], int]:
    """Patient ids and number of document entries in METADATA.XML."""
    root = SafeXml.fromstring(metadata, forbid_dtd=True)
    patients, documents = set(), 0
    for entry in root.iter(f"{_RIM}ExtrinsicObject"):
        documents += 1
        for identifier in entry.iter(f"{_RIM}ExternalIdentifier"):
            if identifier.get("identificationScheme") == PATIENT_ID_SCHEME and identifier.get("value"):
                patients.add(str(identifier.get("value")).strip())
    return patients, documents


def _inspect_archive(data: bytes, limits: Limits, report: XdmReport) -> None:
    if len(data) > limits.archive_bytes:
        report.problems.append(f"archive larger than {limits.archive_bytes} bytes")
        return
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        report.problems.append("not a zip archive")
        return
    with archive:
        entries = archive.infolist()
        if len(entries) > limits.entries:
            report.problems.append(f"more than {limits.entries} entries")
            return
        if sum(e.file_size for e in entries) > limits.unpacked_bytes:
            report.problems.append(f"unpacks to more than {limits.unpacked_bytes} bytes")
            return
        if any(e.compress_size and e.file_size / e.compress_size > limits.ratio for e in entries):
            report.problems.append(f"an entry expands more than {limits.ratio} times (zip bomb)")
            return
        names = {e.filename.upper(): e for e in entries}
        metadata = [n for n in names if n.startswith("IHE_XDM/") and n.endswith("/METADATA.XML")]
        if not metadata:
            report.problems.append("no IHE_XDM/SUBSET/METADATA.XML")
            return
        for name in metadata:
            entry = names[name]
            if entry.file_size > limits.metadata_bytes:
                report.problems.append(f"{entry.filename} larger than {limits.metadata_bytes} bytes")
                continue
            try:
                patients, documents = _patients(archive.read(entry))
            except (SafeXml.ParseError, DefusedXmlException, zipfile.BadZipFile, RuntimeError) as exc:
                report.problems.append(f"{entry.filename} unreadable: {type(exc).__name__}")
                continue
            if not patients:
                report.problems.append(f"{entry.filename} names no patient")
            report.patients |= patients
            report.documents += documents


def inspect(message: bytes, limits: Limits | None = None) -> XdmReport:
    """Inspect every IHE_XDM.ZIP attachment of a raw RFC 5322 message."""
    limits = limits or Limits()
    report = XdmReport()
    for part in message_from_bytes(message, policy=policy.compat32).walk():
        if part.is_multipart() or str(part.get_filename() or "").strip().lower() != ARCHIVE_NAME:
            continue
        report.archives += 1
        data = part.get_payload(decode=True)  # base64 / quoted-printable undone; garbage stays garbage
        _inspect_archive(data if isinstance(data, bytes) else b"", limits, report)
    if len(report.patients) > 1:
        report.problems.append(f"{len(report.patients)} patients in one message (one expected)")
    return report
