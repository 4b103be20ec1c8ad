"""Messages carrying IHE XDM archives for tests: well formed, about several patients, or hostile."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from xml.sax.saxutils import quoteattr

PATIENT_ID_SCHEME = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
"""XDSDocumentEntry.patientId (IHE ITI TF-3), stated here independently of the code under test."""
INS_A = "1234567890123^^^&1.2.250.1.213.1.4.8&ISO"
INS_B = "2987654321098^^^&1.2.250.1.213.1.4.8&ISO"


def metadata(*patients: str) -> bytes:
    """A METADATA.XML with one document entry per patient given."""
    entries = "".join(
        f'<rim:ExtrinsicObject id="doc{n}"><rim:ExternalIdentifier identificationScheme="{PATIENT_ID_SCHEME}"'
        f" value={quoteattr(patient)}/></rim:ExtrinsicObject>"
        for n, patient in enumerate(patients)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><lcm:SubmitObjectsRequest'
        ' xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"'
        ' xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"><rim:RegistryObjectList>'
        f"{entries}</rim:RegistryObjectList></lcm:SubmitObjectsRequest>"
    ).encode()


def archive(files: dict[str, bytes]) -> bytes:
    """A deflated zip of ``files``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in files.items():
            zipped.writestr(name, data)
    return buffer.getvalue()


def xdm(*patients: str) -> bytes:
    """A well-formed archive about ``patients`` (one is what a message may carry)."""
    return archive(
        {"IHE_XDM/SUBSET01/METADATA.XML": metadata(*patients), "IHE_XDM/SUBSET01/DOC0001.XML": b"<x/>"}
    )


def zip_bomb(unpacked: int = 50_000_000) -> bytes:
    """An XDM archive with an entry that expands ``unpacked`` zero bytes from a few kilobytes."""
    return archive({"IHE_XDM/SUBSET01/METADATA.XML": metadata(INS_A), "BOMB": bytes(unpacked)})


def message(*attachments: bytes, name: str = "IHE_XDM.ZIP") -> bytes:
    """An MSSanté message (CRLF line ends) with each of ``attachments`` attached as ``name``."""
    mail = EmailMessage()
    mail["Subject"] = "XDM/1.0/DDM+Compte rendu MARTIN Jean 19700101"
    mail["X-MSS-CODECDA"] = "34112-3"
    mail.set_content("Bonjour.")
    for data in attachments:
        mail.add_attachment(data, maintype="application", subtype="zip", filename=name)
    return mail.as_bytes().replace(b"\n", b"\r\n")
