"""The allowed-domain list parser: the real ANS file, and hostile or broken input."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from mss.core.errors import DataError
from mss.policy.domain.trustlist import NAMESPACE, parse_trust_list

REPO = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("MSS_TEST_SHARED_DATA", REPO.parent / "shared" / "data"))


def entry(name: str, dn: str = "CN=smtp-1.op.example,O=OP,C=FR") -> str:
    return f"<Domaine><Nom>{name}</Nom><DNCertificatOperateur>{dn}</DNCertificatOperateur></Domaine>"


def document(*entries: str, namespace: str = NAMESPACE) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ListeBlancheMSSante xmlns="{namespace}">'
        f"<DateDeGeneration>2026-01-02T03:04:05Z</DateDeGeneration><ListeDomaines>{''.join(entries)}"
        "</ListeDomaines></ListeBlancheMSSante>"
    ).encode()


def test_real_ans_list_loads_without_error() -> None:
    path = SHARED / "listeblanchemssante.xml"
    if not path.exists():
        pytest.skip(f"real ANS list absent at {path}; synthetic cases below cover the parser")
    data = path.read_bytes()
    expected = (SHARED / "listeblanchemssante.xml.sha256").read_text().split()[0]
    assert hashlib.sha256(data).hexdigest() == expected
    trust = parse_trust_list(data)
    assert trust.generated_at == "2025-03-13T14:54:10Z"
    assert trust.warnings == ("missing </ListeBlancheMSSante> end tag after a complete </ListeDomaines>",)
    assert data.count(b"<Domaine>") == 619
    assert sum(len(dns) for dns in trust.domains.values()) >= len(trust.domains)
    assert trust.allows("nddtestasmae.mssante.fr")
    assert not trust.allows("gmail.com")


def test_several_certificates_per_domain_are_kept() -> None:
    trust = parse_trust_list(
        document(
            entry("a.mssante.fr", "CN=smtp-1"), entry("a.mssante.fr", "CN=smtp-2"), entry("b.mssante.fr")
        )
    )
    assert trust.domains["a.mssante.fr"] == ("CN=smtp-1", "CN=smtp-2")
    assert trust.version.startswith("2026-01-02T03:04:05Z/")


def test_unicode_domains_match_in_either_form() -> None:
    trust = parse_trust_list(document(entry("hôpital-été.mssante.fr")))
    assert trust.allows("HÔPITAL-ÉTÉ.mssante.fr")
    assert trust.allows("xn--hpital-t-h1ab6i.mssante.fr")
    assert not trust.allows("hopital-ete.mssante.fr")


def test_a_list_cut_inside_its_domains_is_refused() -> None:
    whole = document(entry("a.mssante.fr"), entry("b.mssante.fr"))
    with pytest.raises(DataError):
        parse_trust_list(whole[: whole.index(b"<Domaine>", 200)])


def test_a_missing_root_end_tag_is_repaired_and_reported() -> None:
    trust = parse_trust_list(document(entry("a.mssante.fr")).removesuffix(b"</ListeBlancheMSSante>"))
    assert trust.allows("a.mssante.fr")
    assert len(trust.warnings) == 1


def test_version_changes_with_content() -> None:
    one = parse_trust_list(document(entry("a.mssante.fr")))
    two = parse_trust_list(document(entry("b.mssante.fr")))
    assert one.version != two.version


@pytest.mark.parametrize(
    "data",
    [
        b"not xml at all",
        document(entry("a.mssante.fr"), namespace="https://example.org/other"),
        document(),
        document("<Domaine><Nom></Nom></Domaine>"),
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b'<ListeBlancheMSSante xmlns="https://listeblanche.mssante.fr/schema">&lol2;</ListeBlancheMSSante>',
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<ListeBlancheMSSante xmlns="https://listeblanche.mssante.fr/schema">&e;</ListeBlancheMSSante>',
    ],
    ids=["garbage", "wrong-namespace", "empty", "nameless", "entity-expansion", "external-entity"],
)
def test_bad_lists_are_refused_with_a_clear_error(data: bytes) -> None:
    with pytest.raises(DataError):
        parse_trust_list(data)
