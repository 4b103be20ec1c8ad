"""What the controller asks the directory's admin API for each state of an MssTenant."""

from __future__ import annotations

from typing import Any

import pytest
from mss.controller.plan import Call, plan
from mss.controller.spec import TenantSpec
from pydantic import ValidationError

SPEC = {
    "establishment": "chu-nord",
    "name": "CHU Nord",
    "finess": "590000001",
    "domains": [
        {"name": "chu-nord.mssante.fr", "mode": "saas"},
        {"name": "ch-sud.mssante.fr", "mode": "proxy", "smarthost": "exchange.ch-sud.local:25"},
    ],
    "mailboxes": [
        {"address": "jean.dupont@chu-nord.mssante.fr", "type": "PER", "ownerRpps": "10000000001"},
        {"address": "cardio@chu-nord.mssante.fr", "type": "ORG", "displayName": "Cardiologie"},
    ],
}


def tenant(**changes: Any) -> dict[str, Any]:
    found = {
        "id": "chu-nord",
        "name": "CHU Nord",
        "finess": "590000001",
        "domains": [
            {"name": "chu-nord.mssante.fr", "mode": "saas", "smarthost": None, "smarthost_tls": "encrypt"},
            {
                "name": "ch-sud.mssante.fr",
                "mode": "proxy",
                "smarthost": "exchange.ch-sud.local:25",
                "smarthost_tls": "encrypt",
            },
        ],
    }
    return found | changes


def mailbox(address: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "address": address,
        "type": kind,
        "status": "active",
        "display_name": None,
        "owner_rpps": None,
    } | fields


IN_SYNC = [
    mailbox("jean.dupont@chu-nord.mssante.fr", "PER", owner_rpps="10000000001"),
    mailbox("cardio@chu-nord.mssante.fr", "ORG", display_name="Cardiologie"),
]


def test_a_new_establishment_is_created_with_its_domains_and_mailboxes() -> None:
    steps = plan(TenantSpec.model_validate(SPEC), None, [])
    assert steps.calls == [
        Call("POST", "/api/v1/tenants", {"id": "chu-nord", "name": "CHU Nord", "finess": "590000001"}),
        Call(
            "POST",
            "/api/v1/tenants/chu-nord/domains",
            {"name": "chu-nord.mssante.fr", "mode": "saas", "smarthost": None, "smarthost_tls": "encrypt"},
        ),
        Call(
            "POST",
            "/api/v1/tenants/chu-nord/domains",
            {
                "name": "ch-sud.mssante.fr",
                "mode": "proxy",
                "smarthost": "exchange.ch-sud.local:25",
                "smarthost_tls": "encrypt",
            },
        ),
        Call(
            "POST",
            "/api/v1/tenants/chu-nord/mailboxes",
            {"address": "jean.dupont@chu-nord.mssante.fr", "type": "PER", "owner_rpps": "10000000001"},
        ),
        Call(
            "POST",
            "/api/v1/tenants/chu-nord/mailboxes",
            {"address": "cardio@chu-nord.mssante.fr", "type": "ORG", "display_name": "Cardiologie"},
        ),
    ]
    assert (steps.drift, steps.unmanaged) == ([], 0)


def test_an_establishment_in_sync_needs_nothing() -> None:
    steps = plan(TenantSpec.model_validate(SPEC), tenant(), IN_SYNC)
    assert (steps.calls, steps.drift, steps.unmanaged) == ([], [], 0)


def test_changed_fields_are_patched_and_other_mailboxes_left_alone() -> None:
    spec = TenantSpec.model_validate(SPEC | {"name": "CHU du Nord"})
    found = [
        mailbox("jean.dupont@chu-nord.mssante.fr", "PER", owner_rpps="10000000001"),
        mailbox("cardio@chu-nord.mssante.fr", "ORG", display_name="Cardio"),
        mailbox("ancien@chu-nord.mssante.fr", "PER"),
        mailbox("parti@chu-nord.mssante.fr", "PER", status="deleted"),
    ]
    steps = plan(spec, tenant(), found)
    assert steps.calls == [
        Call("PATCH", "/api/v1/tenants/chu-nord", {"name": "CHU du Nord"}),
        Call("PATCH", "/api/v1/mailboxes/cardio@chu-nord.mssante.fr", {"display_name": "Cardiologie"}),
    ]
    assert steps.unmanaged == 1  # ancien@, not the deleted one


def test_what_the_admin_api_cannot_change_is_reported_as_drift() -> None:
    found_domains = tenant()["domains"]
    found_domains[1] = found_domains[1] | {"smarthost": "old.ch-sud.local:25"}
    found = [
        mailbox("jean.dupont@chu-nord.mssante.fr", "CAB", owner_rpps="10000000001"),
        mailbox("cardio@chu-nord.mssante.fr", "ORG", status="deleted"),
    ]
    steps = plan(TenantSpec.model_validate(SPEC), tenant(finess="590000002", domains=found_domains), found)
    assert steps.calls == []
    assert steps.drift == [
        "FINESS is 590000002 in the directory, 590000001 declared",
        f"domain ch-sud.mssante.fr differs in the directory: {found_domains[1]}",
        "mailbox jean.dupont@chu-nord.mssante.fr is CAB in the directory, PER declared",
        "mailbox cardio@chu-nord.mssante.fr was deleted: its address cannot be used again",
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"establishment": "CHU_Nord"}, "establishment"),
        ({"domains": [{"name": "chu-nord.mssante.fr", "mode": "proxy"}]}, "smarthost is required"),
        ({"domains": [{"name": "chu-nord.mssante.fr", "mode": "saas", "colour": "blue"}]}, "colour"),
        ({"domains": [{"name": "autre.mssante.fr", "mode": "saas"}]}, "outside the establishment's domains"),
    ],
)
def test_an_invalid_resource_is_refused_before_any_call(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        TenantSpec.model_validate(SPEC | change)
