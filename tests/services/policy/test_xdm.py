"""IHE XDM attachments: layout, one patient, and hostile archives reported, never trusted."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from xml.sax.saxutils import quoteattr

import pytest
from mss.policy.domain.xdm import PATIENT_ID_SCHEME, inspect

INS_A = "1234567890123^^^&1.2.250.1.213.1.4.8&ISO"
INS_B = "2987654321098^^^&1.2.250.1.213.1.4.8&ISO"


def metadata(*patients: str) -> bytes:
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
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in files.items():
            zipped.writestr(name, data)
    return buffer.getvalue()


def message(*attachments: bytes, name: str = "IHE_XDM.ZIP") -> bytes:
    mail = EmailMessage()
    mail["Subject"] = "XDM/1.0/DDM+Compte rendu MARTIN Jean 19700101"
    mail.set_content("Bonjour.")
    for data in attachments:
        mail.add_attachment(data, maintype="application", subtype="zip", filename=name)
    return mail.as_bytes()


def xdm(*patients: str) -> bytes:
    return archive(
        {"IHE_XDM/SUBSET01/METADATA.XML": metadata(*patients), "IHE_XDM/SUBSET01/DOC0001.XML": b"<x/>"}
    )


def test_a_well_formed_archive_names_its_one_patient() -> None:
    report = inspect(message(xdm(INS_A, INS_A)))
    assert (report.archives, report.documents, report.patients, report.problems) == (1, 2, {INS_A}, [])


def test_a_message_without_archive_has_nothing_to_say() -> None:
    report = inspect(message(b"PK not really", name="compte-rendu.pdf"))
    assert (report.archives, report.malformed) == (0, False)


@pytest.mark.parametrize(
    ("attachments", "problem"),
    [
        ((xdm(INS_A, INS_B),), "2 patients in one message"),
        ((xdm(INS_A), xdm(INS_B)), "2 patients in one message"),
        ((archive({"README.TXT": b"hello"}),), "no IHE_XDM/SUBSET/METADATA.XML"),
        ((b"this is not a zip",), "not a zip archive"),
        ((xdm(),), "names no patient"),
        ((archive({"IHE_XDM/SUBSET01/METADATA.XML": b"<unclosed"}),), "unreadable"),
        ((archive({f"IHE_XDM/SUBSET01/F{n}": b"" for n in range(1001)}),), "more than 1000 entries"),
        (
            (archive({"IHE_XDM/SUBSET01/METADATA.XML": metadata(INS_A), "BOMB": bytes(50_000_000)}),),
            "zip bomb",
        ),
    ],
)
def test_malformed_and_hostile_archives_are_reported(attachments: tuple[bytes, ...], problem: str) -> None:
    report = inspect(message(*attachments))
    assert report.malformed
    assert any(problem in p for p in report.problems), report.problems


def test_entity_expansion_in_the_metadata_is_refused() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b"<lolz>&lol2;</lolz>"
    )
    report = inspect(message(archive({"IHE_XDM/SUBSET01/METADATA.XML": laughs})))
    assert report.problems == ["IHE_XDM/SUBSET01/METADATA.XML unreadable: DTDForbidden"]
