"""An MssTenant reconciled into a real directory through its admin API: created with its domains
and mailboxes, left alone when in sync, updated when changed, refused when invalid, and reported
as unavailable (to retry) when the directory cannot be reached."""

from __future__ import annotations

import asyncio
import copy
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import nats
import pytest
from mss.controller.directory import AdminApi
from mss.controller.plan import Call
from mss.controller.reconcile import reconcile
from mss.controller.settings import ControllerSettings
from mss.devstack.ports import free_port
from mss.directory.app import build as build_directory
from mss.directory.seed import apply_seed, load_seed
from mss.directory.settings import DirectorySettings
from mss.testing.fixtures import DEMO, RunningNats
from mss.testing.inprocess import running

pytestmark = pytest.mark.integration
TOKEN = secrets.token_urlsafe(24)


@pytest.fixture
async def admin_url(nats_server: RunningNats, database_url: str, bus: nats.NATS) -> AsyncIterator[str]:
    conn = await asyncpg.connect(database_url)
    try:
        await apply_seed(conn, load_seed(DEMO / "seed.yaml"), "seed.yaml")  # the installation's GHT
    finally:
        await conn.close()
    port = free_port()
    settings = DirectorySettings(
        **nats_server.settings("directory"),
        http_port=port,
        database_url=database_url,
        admin_tokens={"controller": TOKEN},  # type: ignore[dict-item]
    )
    async with running(build_directory(settings)):
        yield f"http://127.0.0.1:{port}"


def resource(establishment: str, generation: int = 1, **spec: Any) -> dict[str, Any]:
    domain = f"{establishment}.mssante.fr"
    return {
        "apiVersion": "mss.sante.fr/v1alpha1",
        "kind": "MssTenant",
        "metadata": {"name": establishment, "generation": generation, "resourceVersion": "1"},
        "spec": {
            "establishment": establishment,
            "name": "CH Nord",
            "domains": [{"name": domain, "mode": "saas"}],
            "mailboxes": [
                {"address": f"ctl-personne@{domain}", "type": "PER", "ownerRpps": "10000000001"},
                {"address": f"ctl-service@{domain}", "type": "ORG", "displayName": "Service essai"},
            ],
            "certificateSecrets": ["present"],
        }
        | spec,
    }


def ready(status: dict[str, Any]) -> tuple[str, str, str]:
    found = next(c for c in status["conditions"] if c["type"] == "Ready")
    return found["status"], found["reason"], found["message"]


async def test_a_tenant_resource_becomes_directory_entries_and_stays_in_sync(admin_url: str) -> None:
    settings = ControllerSettings(admin_url=admin_url, admin_token=TOKEN)  # type: ignore[arg-type]
    api = AdminApi(settings)
    name = f"ch-{secrets.token_hex(3)}"

    async def settle(item: dict[str, Any]) -> dict[str, Any]:
        return await asyncio.to_thread(reconcile, item, api, lambda secret: secret == "present")

    status = await settle(resource(name))
    assert ready(status) == ("True", "Reconciled", "4 change(s) applied")  # tenant, domain, two mailboxes
    assert (status["observedGeneration"], status["domains"], status["mailboxes"]) == (1, 1, 2)
    certificates = next(c for c in status["conditions"] if c["type"] == "CertificatesPresent")
    assert certificates["status"] == "True"
    found = await asyncio.to_thread(api.request, Call("GET", f"/api/v1/tenants/{name}/mailboxes"))
    assert {(m["address"], m["type"]) for m in found} == {
        (f"ctl-personne@{name}.mssante.fr", "PER"),
        (f"ctl-service@{name}.mssante.fr", "ORG"),
    }
    assert ready(await settle(resource(name))) == ("True", "Reconciled", "0 change(s) applied")

    changed = resource(name, generation=2)
    changed["spec"]["mailboxes"][1]["displayName"] = "Service essai adulte"
    changed["spec"]["certificateSecrets"] = ["present", "absent"]
    status = await settle(changed)
    assert ready(status) == ("True", "Reconciled", "1 change(s) applied")
    certificates = next(c for c in status["conditions"] if c["type"] == "CertificatesPresent")
    assert (certificates["status"], certificates["message"]) == ("False", "missing Secrets: absent")
    shown = await asyncio.to_thread(
        api.request, Call("GET", f"/api/v1/mailboxes/ctl-service@{name}.mssante.fr")
    )
    assert shown["display_name"] == "Service essai adulte"

    wrong = copy.deepcopy(changed)
    wrong["spec"]["mailboxes"].append({"address": "x@ailleurs.mssante.fr", "type": "PER"})
    status, reason, message = ready(await settle(wrong))
    assert (status, reason) == ("False", "Invalid")
    assert "mailboxes outside the establishment's domains: x@ailleurs.mssante.fr" in message

    refused = resource(
        name, mailboxes=[{"address": f"robot@{name}.mssante.fr", "type": "ORG", "ownerRpps": "10000000002"}]
    )
    status, reason, message = ready(await settle(refused))
    assert (status, reason) == ("False", "Refused")
    assert "owner_rpps" in message


async def test_an_unreachable_directory_asks_for_a_retry() -> None:
    settings = ControllerSettings(
        admin_url=f"http://127.0.0.1:{free_port()}", admin_token="x", admin_timeout=2
    )  # type: ignore[arg-type]
    status = await asyncio.to_thread(reconcile, resource("ch-nowhere"), AdminApi(settings), lambda _: True)
    assert ready(status)[:2] == ("False", "DirectoryUnavailable")
