"""IHE XDM attachments: layout, one patient, and hostile archives reported, never trusted."""

from __future__ import annotations

import pytest
from mss.policy.domain.xdm import inspect
from mss.testing.xdm import INS_A, INS_B, archive, message, xdm, zip_bomb


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
        ((zip_bomb(),), "zip bomb"),
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
