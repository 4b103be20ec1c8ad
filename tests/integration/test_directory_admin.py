"""The directory admin API over real HTTP, NATS and PostgreSQL: precise errors that change nothing,
a lifecycle where every transition is recorded and audited, and lookups that follow at once."""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import nats
import pytest
import yaml
from mss.bus import streams, subjects
from mss.bus.codec import decode, encode
from mss.cli import __main__ as cli
from mss.cli.settings import CliSettings
from mss.core.errors import DataError
from mss.devstack.ports import free_port
from mss.directory.app import build as build_directory
from mss.directory.seed import apply_seed, load_seed, seed
from mss.directory.settings import DirectorySettings
from mss.testing.fixtures import DEMO, RunningNats
from mss.testing.inprocess import running
from mss.v1 import AddressLookupReply, AddressLookupRequest, AuditCode, AuditEvent, MailboxStatus, RouteKind
from openapi_spec_validator import validate

pytestmark = pytest.mark.integration

TOKEN = secrets.token_urlsafe(24)
CHU_TOKEN = secrets.token_urlsafe(24)
"""A token limited to the establishment chu-demo."""


@dataclass
class Admin:
    """An HTTP client of the admin API, the bus, and what was audited."""

    http: aiohttp.ClientSession
    base: str
    bus: nats.NATS
    audit: list[AuditEvent]
    database_url: str
    tenant: str
    domain: str

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = TOKEN
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.base + path, json=body, headers=headers) as response:
            return response.status, await response.json()

    async def lookup(self, address: str) -> AddressLookupReply:
        reply = await self.bus.request(
            subjects.DIRECTORY_LOOKUP, encode(AddressLookupRequest(address=address)), timeout=5
        )
        return decode(AddressLookupReply, reply.data)


@pytest.fixture
async def admin(nats_server: RunningNats, database_url: str) -> AsyncIterator[Admin]:
    conn = await asyncpg.connect(database_url)
    try:
        await apply_seed(conn, load_seed(DEMO / "seed.yaml"), "seed.yaml")  # the installation's GHT: ght-demo
    finally:
        await conn.close()
    bus = await nats_server.connect()
    for spec in streams.ALL:
        await streams.ensure_stream(bus.jetstream(), spec)
    audit: list[AuditEvent] = []

    async def collect(msg: nats.aio.msg.Msg) -> None:
        audit.append(decode(AuditEvent, msg.data))

    await bus.subscribe(subjects.audit("directory"), cb=collect)
    port = free_port()
    settings = DirectorySettings(
        **nats_server.settings("directory"),
        http_port=port,
        database_url=database_url,
        admin_tokens={"ops-alice": TOKEN, "dsi-chu": CHU_TOKEN},  # type: ignore[dict-item]
        admin_token_tenants={"dsi-chu": "chu-demo"},
    )
    suffix = secrets.token_hex(4)
    try:
        async with running(build_directory(settings)), aiohttp.ClientSession() as http:
            yield Admin(
                http,
                f"http://127.0.0.1:{port}",
                bus,
                audit,
                database_url,
                f"ch-{suffix}",
                f"ch-{suffix}.mssante.fr",
            )
    finally:
        await bus.close()


async def directory_version(admin: Admin) -> int:
    conn = await asyncpg.connect(admin.database_url)
    try:
        return int(await conn.fetchval("SELECT version FROM directory_meta"))
    finally:
        await conn.close()


async def establishment(admin: Admin) -> None:
    status, _ = await admin.call("POST", "/api/v1/tenants", {"id": admin.tenant, "name": "CH Test"})
    assert status == 201
    status, _ = await admin.call(
        "POST", f"/api/v1/tenants/{admin.tenant}/domains", {"name": admin.domain, "mode": "saas"}
    )
    assert status == 201


async def test_no_token_no_api_and_the_openapi_document_is_valid(admin: Admin) -> None:
    assert (await admin.call("GET", "/api/v1/tenants", token=None))[0] == 401
    assert (await admin.call("GET", "/api/v1/tenants", token="guessed-token"))[0] == 401
    status, spec = await admin.call("GET", "/api/v1/openapi.json", token=None)
    assert status == 200
    validate(spec)
    assert {"post", "get"} <= set(spec["paths"]["/api/v1/tenants/{tenant_id}/mailboxes"])
    assert spec["components"]["schemas"]["MailboxIn"]["properties"]["owner_rpps"]


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/api/v1/tenants", {"id": "Bad Id", "name": "x"}, 422, "id"),
        ("/api/v1/tenants", {"id": "ok-id", "name": "x", "finess": "12345"}, 422, "finess"),
        ("/api/v1/tenants", {"id": "ok-id", "name": "x", "colour": "red"}, 422, "colour"),
        ("/api/v1/tenants", "not an object", 422, "body"),
        ("/api/v1/tenants/{tenant}/domains", {"name": "x.mssante.fr", "mode": "proxy"}, 422, "smarthost"),
        (
            "/api/v1/tenants/{tenant}/mailboxes",
            {"address": "a@elsewhere.mssante.fr", "type": "PER"},
            422,
            "outside",
        ),
        ("/api/v1/tenants/{tenant}/mailboxes", {"address": "a@{domain}", "type": "XYZ"}, 422, "type"),
        (
            "/api/v1/tenants/{tenant}/mailboxes",
            {"address": "a@{domain}", "type": "PER", "owner_rpps": "123"},
            422,
            "owner_rpps",
        ),
        (
            "/api/v1/tenants/{tenant}/mailboxes",
            {"address": "a@{domain}", "type": "ORG", "owner_rpps": "10001234567"},
            422,
            "owner_rpps is not a field of ORG",
        ),
        (
            "/api/v1/tenants/{tenant}/mailboxes",
            {"address": "a@{domain}", "type": "PER", "certificate_dn": "CN=x"},
            422,
            "certificate_dn",
        ),
        ("/api/v1/tenants/nowhere/mailboxes", {"address": "a@x.mssante.fr", "type": "PER"}, 404, "nowhere"),
        ("/api/v1/tenants", {"id": "chu-demo", "name": "again"}, 409, "exists"),
    ],
)
async def test_invalid_requests_get_a_precise_error_and_change_nothing(
    admin: Admin, path: str, body: Any, status: int, says: str
) -> None:
    await establishment(admin)
    before = await directory_version(admin)
    if isinstance(body, dict):
        body = {k: v.format(domain=admin.domain) if isinstance(v, str) else v for k, v in body.items()}
    got, error = await admin.call("POST", path.format(tenant=admin.tenant), body)
    assert got == status, error
    assert says in str(error)
    assert await directory_version(admin) == before
    _, boxes = await admin.call("GET", f"/api/v1/tenants/{admin.tenant}/mailboxes")
    assert boxes == []


async def test_a_mailbox_lifecycle_is_recorded_audited_and_seen_by_lookups(admin: Admin) -> None:
    await establishment(admin)
    address = f"dr.test@{admin.domain}"
    box = {"address": address, "type": "PER", "display_name": "Dr Test", "owner_rpps": "10000000001"}
    assert (await admin.call("POST", f"/api/v1/tenants/{admin.tenant}/mailboxes", box))[0] == 201
    assert (await admin.call("POST", f"/api/v1/tenants/{admin.tenant}/mailboxes", box))[0] == 409
    assert (await admin.lookup(address)).mailbox_status == MailboxStatus.MAILBOX_STATUS_ACTIVE

    status, error = await admin.call("PATCH", f"/api/v1/mailboxes/{address}", {"type": "ORG"})
    assert (status, error["message"]) == (422, "type cannot change after creation")
    assert (await admin.call("PATCH", f"/api/v1/mailboxes/{address}", {"red_list": True}))[0] == 200

    suspend = {"status": "suspended", "reason": "long leave"}
    assert (await admin.call("POST", f"/api/v1/mailboxes/{address}/status", suspend))[0] == 200
    assert (await admin.lookup(address)).mailbox_status == MailboxStatus.MAILBOX_STATUS_SUSPENDED
    assert (await admin.call("POST", f"/api/v1/mailboxes/{address}/status", suspend))[0] == 409
    back = {"status": "active", "reason": "back"}
    assert (await admin.call("POST", f"/api/v1/mailboxes/{address}/status", back))[0] == 200
    gone = {"status": "deleted", "reason": "left the establishment"}
    assert (await admin.call("POST", f"/api/v1/mailboxes/{address}/status", gone))[0] == 200
    status, error = await admin.call("POST", f"/api/v1/mailboxes/{address}/status", back)
    assert (status, error["message"]) == (409, f"{address} is deleted: it cannot become active")
    status, error = await admin.call("POST", f"/api/v1/tenants/{admin.tenant}/mailboxes", box)
    assert (status, error["message"]) == (409, f"{address} was deleted: never reused")
    assert (await admin.lookup(address)).mailbox_status == MailboxStatus.MAILBOX_STATUS_DELETED

    _, shown = await admin.call("GET", f"/api/v1/mailboxes/{address}")
    assert (shown["status"], shown["red_list"], shown["owner_rpps"]) == ("deleted", True, "10000000001")
    _, events = await admin.call("GET", f"/api/v1/mailboxes/{address}/history")
    assert [(e["action"], e["to_status"]) for e in events] == [
        ("created", "active"),
        ("updated", None),
        ("status", "suspended"),
        ("status", "active"),
        ("status", "deleted"),
    ]
    assert {e["actor"] for e in events} == {"ops-alice"}
    changes = await audited(admin, 7)  # establishment, domain, mailbox, update, three transitions
    mine = [e for e in changes if e.recipient == address]
    assert [e.reason.split(": ", 1)[1] for e in mine][
        -1
    ] == f"mailbox {address} active → deleted: left the establishment"
    assert all(e.reason.startswith("by ops-alice: ") and e.tenant_id == admin.tenant for e in mine)


async def test_delegations_go_to_people_only_and_end_cleanly(admin: Admin) -> None:
    await establishment(admin)
    service, person = f"secretariat@{admin.domain}", f"dr.x@{admin.domain}"
    for body in ({"address": service, "type": "ORG"}, {"address": person, "type": "PER"}):
        assert (await admin.call("POST", f"/api/v1/tenants/{admin.tenant}/mailboxes", body))[0] == 201
    assert (await admin.call("PUT", f"/api/v1/mailboxes/{service}/delegates/{person}"))[0] == 200
    assert (await admin.call("PUT", f"/api/v1/mailboxes/{service}/delegates/{person}"))[0] == 409
    assert (await admin.call("PUT", f"/api/v1/mailboxes/{person}/delegates/{service}"))[0] == 422
    _, shown = await admin.call("GET", f"/api/v1/mailboxes/{service}")
    assert shown["delegates"] == [person]
    assert (await admin.call("DELETE", f"/api/v1/mailboxes/{service}/delegates/{person}"))[0] == 200
    assert (await admin.call("DELETE", f"/api/v1/mailboxes/{service}/delegates/{person}"))[0] == 409
    _, shown = await admin.call("GET", f"/api/v1/mailboxes/{service}")
    assert shown["delegates"] == []


async def audited(admin: Admin, count: int) -> list[AuditEvent]:
    """The directory-change events, once ``count`` have arrived (bounded wait)."""
    deadline = time.monotonic() + 10
    while True:
        found = [e for e in admin.audit if e.code == AuditCode.AUDIT_CODE_DIRECTORY_CHANGED]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.02)


async def mss(admin: Admin, *argv: str, token: str = TOKEN, url: str = "") -> tuple[int, str, str]:
    """Run the ``mss`` command against the admin API; return (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    settings = CliSettings(admin_url=url or admin.base, admin_token=token, timeout=5)  # type: ignore[arg-type]
    status = await cli.run(list(argv), settings, out, err)
    return status, out.getvalue(), err.getvalue()


async def test_the_mss_command_drives_the_registry(admin: Admin) -> None:
    tenant, domain = admin.tenant, admin.domain
    assert (await mss(admin, "tenant", "create", tenant, "--name", "CH Test", "--finess", "123456789"))[
        0
    ] == 0
    assert (await mss(admin, "tenant", "add-domain", tenant, domain, "--mode", "saas"))[0] == 0
    status, out, _ = await mss(
        admin, "bal", "create", tenant, f"dr.a@{domain}", "--type", "PER", "--rpps", "10000000002"
    )
    assert (status, out.strip()) == (0, f"mailbox dr.a@{domain}: created (PER)")
    status, _, err = await mss(
        admin, "bal", "create", tenant, f"dr.b@{domain}", "--type", "PER", "--rpps", "12"
    )
    assert status == 1
    assert "owner_rpps: String should match pattern" in err
    assert (await mss(admin, "bal", "create", tenant, f"accueil@{domain}", "--type", "ORG"))[0] == 0
    assert (await mss(admin, "bal", "delegate", f"accueil@{domain}", f"dr.a@{domain}"))[0] == 0
    assert (await mss(admin, "bal", "set", f"dr.a@{domain}", "--red-list", "true", "--quota", "1000000"))[
        0
    ] == 0
    assert (await mss(admin, "bal", "suspend", f"dr.a@{domain}", "--reason", "leave"))[0] == 0
    status, out, _ = await mss(admin, "bal", "show", f"dr.a@{domain}")
    shown = json.loads(out)
    assert (shown["status"], shown["red_list"], shown["quota_bytes"]) == ("suspended", True, 1000000)
    status, out, _ = await mss(admin, "bal", "list", tenant, "--status", "suspended")
    assert [b["address"] for b in json.loads(out)] == [f"dr.a@{domain}"]
    status, out, _ = await mss(admin, "tenant", "show", tenant)
    assert json.loads(out)["domains"] == [
        {"name": domain, "mode": "saas", "smarthost": None, "smarthost_tls": "encrypt"}
    ]
    assert (await mss(admin, "bal", "show", f"dr.a@{domain}", token="wrong"))[0] == 1
    status, _, err = await mss(admin, "tenant", "list", url=f"http://127.0.0.1:{free_port()}")
    assert status == 2
    assert "admin API at" in err


async def test_correspondents_are_learnt_from_routing_events(admin: Admin) -> None:
    await establishment(admin)
    person = f"dr.c@{admin.domain}"
    assert (
        await admin.call(
            "POST", f"/api/v1/tenants/{admin.tenant}/mailboxes", {"address": person, "type": "PER"}
        )
    )[0] == 201
    js = admin.bus.jetstream()
    for n, (sender, recipient, tenant, kind) in enumerate(
        [
            ("dr.x@autre-operateur.mssante.fr", person, admin.tenant, RouteKind.ROUTE_KIND_LOCAL),
            (person, "dr.x@autre-operateur.mssante.fr", "", RouteKind.ROUTE_KIND_PEER),
            (person, "jean.martin@chu-demo.mssante.fr", "chu-demo", RouteKind.ROUTE_KIND_LOCAL),
        ]
    ):
        event = AuditEvent(
            event_id=f"{admin.tenant}-{n}",
            code=AuditCode.AUDIT_CODE_MESSAGE_ROUTED,
            message_id=f"M{n}",
            mail_from=sender,
            recipient=recipient,
            tenant_id=tenant,
            reason=RouteKind.Name(kind),
        )
        event.at.GetCurrentTime()
        await js.publish(subjects.audit("policy"), encode(event))
    path = f"/api/v1/tenants/{admin.tenant}/correspondents"
    deadline = time.monotonic() + 10
    while True:
        status, found = await admin.call("GET", path)
        if len(found) >= 2 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert status == 200
    by_address = {c["address"]: c for c in found}
    assert set(by_address) == {"dr.x@autre-operateur.mssante.fr", "jean.martin@chu-demo.mssante.fr"}
    assert (
        by_address["dr.x@autre-operateur.mssante.fr"]["sent"],
        by_address["dr.x@autre-operateur.mssante.fr"]["received"],
    ) == (1, 1)
    assert by_address["jean.martin@chu-demo.mssante.fr"]["equipped"] is True
    assert (await admin.call("GET", "/api/v1/tenants/nowhere/correspondents"))[0] == 404


async def test_a_seed_records_creations_and_cannot_change_a_type(admin: Admin, tmp_path: Path) -> None:
    _, events = await admin.call("GET", "/api/v1/mailboxes/jean.martin@chu-demo.mssante.fr/history")
    assert events[0]["action"] == "created"
    assert events[0]["actor"].startswith("seed")  # whichever test seeded the shared database first
    changed = yaml.safe_load((DEMO / "seed.yaml").read_text(encoding="utf-8"))
    cardiologie = changed["establishments"][0]["mailboxes"][1]
    cardiologie["type"] = "CAB"  # was ORG
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(changed, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DataError, match="cannot change"):
        await seed(admin.database_url, path)
    _, shown = await admin.call("GET", "/api/v1/mailboxes/cardiologie@chu-demo.mssante.fr")
    assert shown["type"] == "ORG"


async def test_an_establishment_chooses_its_mixed_recipients_rule(admin: Admin) -> None:
    await establishment(admin)
    path = f"/api/v1/tenants/{admin.tenant}"
    assert (await admin.call("GET", path))[1]["mixed_recipients"] == "refuse_whole"  # the default
    status, error = await admin.call("PATCH", path, {"mixed_recipients": "deliver_some"})
    assert (status, error["fields"][0]["field"]) == (422, "mixed_recipients")
    command = ["tenant", "set", admin.tenant, "--mixed-recipients", "deliver_valid", "--max-size", "1000000"]
    command += ["--suspended-reply", "temporary", "--strict-national", "true"]
    command += ["--rate-per-sender", "20", "--malformed-xdm", "refuse"]
    assert (await mss(admin, *command))[0] == 0
    shown = (await admin.call("GET", path))[1]
    assert (shown["mixed_recipients"], shown["max_message_bytes"]) == ("deliver_valid", 1000000)
    assert (shown["suspended_reply"], shown["strict_national"]) == ("temporary", True)
    assert (shown["rate_per_sender"], shown["malformed_xdm"]) == (20, "refuse")
    status, error = await admin.call("PATCH", path, {"malformed_xdm": "ignore"})
    assert (status, error["fields"][0]["field"]) == (422, "malformed_xdm")
    assert (await admin.call("PATCH", "/api/v1/tenants/nowhere", {"name": "x"}))[0] == 404


async def test_an_establishment_sets_its_retention_and_a_legal_hold(admin: Admin) -> None:
    await establishment(admin)
    path = f"/api/v1/tenants/{admin.tenant}"
    shown = (await admin.call("GET", path))[1]
    assert (shown["audit_retention_months"], shown["content_retention_days"], shown["legal_hold"]) == (
        120,
        None,
        False,
    )
    status, error = await admin.call("PATCH", path, {"legal_hold": True})
    assert (status, error["fields"][0]["message"]) == (
        422,
        "Value error, a legal hold needs legal_hold_reason",
    )
    command = [
        "tenant",
        "set",
        admin.tenant,
        "--audit-retention-months",
        "24",
        "--content-retention-days",
        "90",
    ]
    command += ["--legal-hold", "true", "--legal-hold-reason", "court order 2026-118"]
    assert (await mss(admin, *command))[0] == 0
    shown = (await admin.call("GET", path))[1]
    assert (shown["audit_retention_months"], shown["content_retention_days"]) == (24, 90)
    assert (shown["legal_hold"], shown["legal_hold_reason"]) == (True, "court order 2026-118")
    command = ["tenant", "set", admin.tenant, "--content-retention-days", "0", "--legal-hold", "false"]
    assert (await mss(admin, *command))[0] == 0
    shown = (await admin.call("GET", path))[1]
    assert (shown["content_retention_days"], shown["legal_hold"], shown["legal_hold_reason"]) == (
        None,
        False,
        "",
    )
    changes = [e.reason for e in await audited(admin, 4)]  # establishment, domain, two updates
    assert f"by ops-alice: establishment {admin.tenant} updated: audit_retention_months = 24" in changes[-2]
    assert "legal_hold = True, legal_hold_reason = court order 2026-118" in changes[-2]


async def test_a_token_limited_to_one_establishment_sees_and_changes_only_it(admin: Admin) -> None:
    status, tenants = await admin.call("GET", "/api/v1/tenants", token=CHU_TOKEN)
    assert (status, [t["id"] for t in tenants]) == (200, ["chu-demo"])
    assert (await admin.call("GET", "/api/v1/tenants/chu-demo", token=CHU_TOKEN))[0] == 200
    jean, claire = "jean.martin@chu-demo.mssante.fr", "claire.durand@ch-exemple.mssante.fr"
    assert (await admin.call("GET", f"/api/v1/mailboxes/{jean}", token=CHU_TOKEN))[0] == 200
    for method, path, body in (  # another establishment's things look as if they did not exist
        ("GET", "/api/v1/tenants/ch-exemple", None),
        ("GET", "/api/v1/tenants/ch-exemple/mailboxes", None),
        ("GET", f"/api/v1/mailboxes/{claire}", None),
        ("PATCH", f"/api/v1/mailboxes/{claire}", {"description": "changed"}),
        ("POST", f"/api/v1/mailboxes/{claire}/status", {"status": "suspended", "reason": "test"}),
        ("PUT", f"/api/v1/mailboxes/cardiologie@chu-demo.mssante.fr/delegates/{claire}", None),
    ):
        status, answer = await admin.call(method, path, body, token=CHU_TOKEN)
        assert (status, answer["error"]) == (404, "mss.not_found"), (method, path, answer)
    for method, path, body in (  # the GHT's own things are GHT-wide
        ("POST", "/api/v1/tenants", {"id": "ch-intrus", "name": "Intrus"}),
        ("PUT", "/api/v1/ght/ght-demo", {"name": "renamed"}),
    ):
        status, answer = await admin.call(method, path, body, token=CHU_TOKEN)
        assert (status, answer["error"]) == (403, "mss.forbidden"), (method, path, answer)
    status, _ = await admin.call("GET", f"/api/v1/mailboxes/{claire}")  # untouched, for a GHT-wide token
    assert status == 200
    changed = await admin.call(
        "PATCH", f"/api/v1/mailboxes/{jean}", {"display_name": "Dr Jean Martin"}, token=CHU_TOKEN
    )
    assert changed[0] == 200
    (event,) = [e for e in await audited(admin, 1) if e.recipient == jean]
    assert event.reason.startswith("by dsi-chu: ")
