"""MSSanté mailboxes of FHIR resources (R-DIR-2), and how they complete what the directory knows."""

from __future__ import annotations

from mss.directory.national.entries import EntryData
from mss.directory.national.fhir_mailboxes import mailboxes, merge

from .national_fhir_samples import mailbox, organization, practitioner, role


def test_a_practitioner_gives_its_mssante_mailboxes_with_rpps_name_and_profession() -> None:
    resource = practitioner(
        "10000000001",
        "DUPONT",
        "Jean-Marie",
        mailbox("Jean-Marie.Dupont@medecin.mssante.fr"),
        {"system": "email", "value": "jm.dupont@gmail.com"},
    )
    [found] = mailboxes(resource)
    assert found.address == "jean-marie.dupont@medecin.mssante.fr"
    assert (found.type, found.rpps, found.id_type, found.national_id) == (
        "PER",
        "10000000001",
        "8",
        "810000000001",
    )
    assert (found.last_name, found.first_name, found.civility) == ("DUPONT", "Jean-Marie", "DR")
    assert (found.profession_code, found.profession_label) == ("10", "Médecin")


def test_red_listed_ended_unmarked_or_malformed_mailboxes_are_left_out() -> None:
    ended = mailbox("old@medecin.mssante.fr") | {"period": {"end": "2020-01-01T00:00:00Z"}}
    unmarked = {"system": "email", "value": "plain@medecin.mssante.fr"}
    resource = practitioner(
        "10000000002",
        "MARTIN",
        "Sophie",
        mailbox("hidden@medecin.mssante.fr", listeRouge=True),
        ended,
        unmarked,
        mailbox("not an address"),
        mailbox("kept@medecin.mssante.fr", listeRouge=False),
    )
    assert [m.address for m in mailboxes(resource)] == ["kept@medecin.mssante.fr"]


def test_a_role_gives_profession_speciality_and_structure_but_no_type_without_metadata() -> None:
    [found] = mailboxes(role(mailbox("psy@clinique-du-parc.mssante.fr", kind=None)))
    assert found.type == ""
    assert (found.speciality_code, found.speciality_label) == ("SM42", "Psychiatrie")
    assert found.structure_name == "CLINIQUE DU PARC"


def test_an_organization_gives_its_service_structure_and_address() -> None:
    resource = organization(
        "290000017", "CHU DE BREST", mailbox("cardio@chu-brest.mssante.fr", kind="ORG", service="Cardiologie")
    )
    [found] = mailboxes(resource)
    assert (found.type, found.service, found.structure_name) == ("ORG", "Cardiologie", "CHU DE BREST")
    assert (found.structure_id_type, found.structure_id) == ("1", "1290000017")
    assert (found.postal_code, found.city, found.country) == ("29200", "BREST", "FRA")


def test_other_resources_and_garbage_give_nothing() -> None:
    assert mailboxes({"resourceType": "Patient", "telecom": [mailbox("p@x.mssante.fr")]}) == []
    assert mailboxes({"resourceType": "Practitioner", "telecom": "nope", "name": 3}) == []
    assert mailboxes({"resourceType": "Organization", "telecom": [None, 1, {"system": "email"}]}) == []


def test_merge_keeps_what_the_directory_knew_when_the_api_leaves_it_empty() -> None:
    known = EntryData(
        "psy@clinique-du-parc.mssante.fr",
        "PER",
        last_name="DURAND",
        first_name="Léa",
        city="BREST",
        rpps="10000000009",
    )
    [update] = mailboxes(role(mailbox("psy@clinique-du-parc.mssante.fr", kind=None)))
    merged = merge(known, update, "PER")
    assert (merged.last_name, merged.first_name, merged.city, merged.rpps) == (
        "DURAND",
        "Léa",
        "BREST",
        "10000000009",
    )
    assert (merged.speciality_label, merged.structure_name) == ("Psychiatrie", "CLINIQUE DU PARC")
    assert merge(None, update, "PER").type == "PER"
    assert merge(known._replace(type="CAB"), update, "PER").type == "CAB"
