"""The audit API: sign-in, roles, search filters, timelines, signed exports, the access log, and
isolation between establishments down to the database's row-level security."""

from __future__ import annotations

import io
import ssl
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg
import pytest
import trustme
from mss.core.errors import DataError
from mss.devstack.ports import free_port
from mss.testing.audit_site import INS, PASSWORD, Site
from mss.testing.fixtures import RunningNats
from mss.testing.inprocess import running
from mss.tracing.app import build as build_tracing
from mss.tracing.export import check
from mss.tracing.settings import TracingSettings
from openapi_spec_validator import validate

pytestmark = pytest.mark.integration


class Client:
    """One signed-in account."""

    def __init__(self, http: aiohttp.ClientSession, site: Site, token: str) -> None:
        self.http, self.site, self.token = http, site, token

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.request(method, self.site.url + path, json=body, headers=headers) as r:
            if r.content_type == "application/json":
                return r.status, await r.json()
            return r.status, await r.read()

    async def search(self, **filters: str) -> list[str]:
        status, page = await self.call("GET", "/api/v1/messages?" + urlencode(filters))
        assert status == 200, page
        return [m["message_id"] for m in page["messages"]]


async def sign_in(http: aiohttp.ClientSession, site: Site, who: str, password: str = PASSWORD) -> Client:
    async with http.post(
        f"{site.url}/api/v1/session", json={"login": site.login(who), "password": password}
    ) as r:
        assert r.status == 200, await r.text()
        return Client(http, site, (await r.json())["token"])


async def test_nothing_without_signing_in_and_a_wrong_password_is_refused_and_logged(
    audit_site: Site,
) -> None:
    site = audit_site
    async with aiohttp.ClientSession() as http:
        for method, path in [
            ("GET", "/api/v1/me"),
            ("GET", "/api/v1/messages"),
            ("GET", f"/api/v1/messages/{site.one}"),
            ("POST", "/api/v1/exports"),
            ("GET", "/api/v1/access-log"),
        ]:
            for headers in ({}, {"Authorization": "Bearer forged-token"}):
                async with http.request(method, site.url + path, headers=headers) as r:
                    assert r.status == 401, (method, path)
        async with http.post(
            f"{site.url}/api/v1/session", json={"login": site.login("dpo-a"), "password": "wrong password"}
        ) as r:
            assert r.status == 401
        admin = await sign_in(http, site, "admin")
        status, log = await admin.call("GET", "/api/v1/access-log")
        assert status == 200
        refused = [
            e for e in log["entries"] if e["login"] == site.login("dpo-a") and e["action"] == "sign in"
        ]
        assert refused[0]["outcome"] == "refused"
        status, spec = await admin.call("GET", "/api/v1/openapi.json")
        validate(spec)
        assert "/api/v1/messages/{message_id}" in spec["paths"]


async def test_each_auditor_sees_its_establishments_messages_only(audit_site: Site) -> None:
    site = audit_site
    async with aiohttp.ClientSession() as http:
        dpo_a, dpo_b, admin = [await sign_in(http, site, who) for who in ("dpo-a", "dpo-b", "admin")]
        assert await dpo_a.search() == [site.one]
        assert await dpo_b.search() == [site.two, site.one]
        assert [m for m in await admin.search() if m in (site.one, site.two)] == [site.two, site.one]
        # A guessed id of the other establishment answers exactly as an unknown one.
        unknown = await dpo_a.call("GET", "/api/v1/messages/01UNKNOWN")
        guessed = await dpo_a.call("GET", f"/api/v1/messages/{site.two}")
        assert guessed[0] == unknown[0] == 404
        assert guessed[1]["error"] == unknown[1]["error"]
        assert await dpo_a.search(tenant=site.b) == []
        assert await dpo_a.search(finess=site.finess_b) == []
        status, _ = await dpo_a.call(
            "POST", "/api/v1/exports", {"message_ids": [site.one, site.two], "purpose": "x"}
        )
        assert status == 404
        status, _ = await dpo_a.call("POST", "/api/v1/exports", {"message_ids": [""], "purpose": "x"})
        assert status == 422  # events about no message (sign-ins, directory changes) are no message
        status, _ = await dpo_a.call("GET", "/api/v1/access-log")
        assert status == 403
        # The sender's establishment sees every recipient; a receiving one its own, and the events
        # about the whole message.
        _, seen_by_a = await dpo_a.call("GET", f"/api/v1/messages/{site.one}")
        _, seen_by_b = await dpo_b.call("GET", f"/api/v1/messages/{site.one}")
        assert sorted(seen_by_a["recipients"]) == [f"accueil@{site.domain_b}", f"secretariat@{site.domain_a}"]
        assert sorted(seen_by_b["recipients"]) == [f"accueil@{site.domain_b}"]
        assert [e["event"] for e in seen_by_b["events"]] == [
            "MESSAGE_ACCEPTED",
            "CONTENT_INSPECTED",
            "MESSAGE_ROUTED",
            "STORED",
        ]
        relayed = seen_by_a["events"][-1]
        assert relayed["event"] == "RELAYED"
        assert relayed["tls"]["tls_version"] == "TLSv1.3"
        assert relayed["next_hop"] == "10.0.0.25:25"


async def test_row_level_security_hides_other_establishments_even_without_a_filter(
    audit_site: Site, database_url: str
) -> None:
    site = audit_site
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE mss_audit_reader")
            await conn.execute("SELECT set_config('mss.tenants', $1::text[]::text, true)", [site.a])
            ids = {r["message_id"] for r in await conn.fetch("SELECT message_id FROM audit_events")}
            assert site.one in ids
            assert site.two not in ids
            assert (
                await conn.fetchval("SELECT count(*) FROM audit_messages WHERE message_id = $1", site.two)
                == 0
            )
            assert (
                await conn.fetchval("SELECT count(*) FROM audit_recipients WHERE message_id = $1", site.two)
                == 0
            )
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("SELECT * FROM audit_accounts")
    finally:
        await conn.close()


async def test_search_filters_and_pages(audit_site: Site) -> None:
    site = audit_site
    async with aiohttp.ClientSession() as http:
        admin = await sign_in(http, site, "admin")
        assert await admin.search(sender=site.sender) == [site.one]
        assert await admin.search(recipient=f"secretariat@{site.domain_a}") == [site.one]
        assert await admin.search(status="BOUNCED", tenant=site.b) == [site.two]
        assert await admin.search(status="DELIVERED", tenant=site.b) == [site.one]
        assert await admin.search(status="DELIVERED", tenant=site.a) == [site.one]
        assert await admin.search(status="REFUSED", tenant=site.b) == []
        assert await admin.search(message_id=f"<{site.one}@a>") == [site.one]
        assert await admin.search(message_id=site.two) == [site.two]
        assert await admin.search(patient=INS, tenant=site.b) == [site.one]  # other sites share the INS
        assert await admin.search(patient="100000000000000") == []
        assert await admin.search(rpps=site.rpps) == [site.one]
        assert await admin.search(finess=site.finess_b) == [site.two, site.one]
        assert await admin.search(rpps="99999999999") == []
        assert await admin.search(finess="999999999") == []
        assert await admin.search(tenant=site.a) == [site.one]
        assert await admin.search(since="2000-01-01", until="2000-02-01") == []
        first = site.events[0].at.ToDatetime().date().isoformat()
        assert await admin.search(since=first, sender=site.sender) == [site.one]
        dpo = await sign_in(http, site, "dpo-b")  # sees site.one and site.two only
        status, page = await dpo.call("GET", "/api/v1/messages?limit=1")
        assert [m["message_id"] for m in page["messages"]] == [site.two]
        status, rest = await dpo.call("GET", f"/api/v1/messages?limit=1&before={page['next']}")
        assert [m["message_id"] for m in rest["messages"]] == [site.one]
        _, last = await dpo.call("GET", f"/api/v1/messages?limit=1&before={rest['next']}")
        assert (last["messages"], last["next"]) == ([], "")
        status, problem = await admin.call("GET", "/api/v1/messages?status=LOST")
        assert (status, problem["message"][:14]) == (422, "unknown status")
        for bad in ("since=0001-01-01T00:00%2B01:00", "until=9999-12-31T23:00-05:00", "sender=a%00b"):
            status, problem = await admin.call("GET", f"/api/v1/messages?{bad}")
            assert status == 422, (bad, problem)
        status, _ = await admin.call("GET", f"/api/v1/access-log?before={2**64}")
        assert status == 422
        _, log = await admin.call("GET", "/api/v1/access-log")
        searched = [e["target"] for e in log["entries"] if "patient=" in e["target"]]
        assert searched
        assert all(INS not in target and "patient=%28not+recorded%29" in target for target in searched)
        status, problem = await admin.call("GET", "/api/v1/messages?since=yesterday")
        assert (status, problem["message"][:6]) == (422, "since:")


async def test_support_sees_metadata_but_no_content(audit_site: Site) -> None:
    site = audit_site
    async with aiohttp.ClientSession() as http:
        support = await sign_in(http, site, "support-a")
        dpo = await sign_in(http, site, "dpo-a")
        _, for_support = await support.call("GET", f"/api/v1/messages/{site.one}")
        _, for_dpo = await dpo.call("GET", f"/api/v1/messages/{site.one}")
        inspected = next(e for e in for_support["events"] if e["event"] == "CONTENT_INSPECTED")
        assert (inspected["patient_hash"], inspected["reason"]) == ("", "(content: not shown to support)")
        assert next(e for e in for_dpo["events"] if e["event"] == "CONTENT_INSPECTED")["patient_hash"]
        status, _ = await support.call("GET", f"/api/v1/messages?patient={INS}")
        assert status == 403
        status, _ = await support.call("POST", "/api/v1/exports", {"message_ids": [site.one], "purpose": "x"})
        assert status == 403
        assert await support.search() == [site.one]


async def test_an_export_is_signed_and_logged(audit_site: Site) -> None:
    site = audit_site
    async with aiohttp.ClientSession() as http:
        dpo = await sign_in(http, site, "dpo-b")
        status, data = await dpo.call(
            "POST",
            "/api/v1/exports",
            {"message_ids": [site.one, site.two], "purpose": "patient request 2026-42"},
        )
        assert status == 200
        async with http.get(f"{site.url}/api/v1/exports/key") as r:
            assert await r.read() == site.public_pem
        manifest = check(data, site.public_pem)
        assert manifest["exported_by"] == site.login("dpo-b")
        assert manifest["messages"] == [site.one, site.two]
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            rows = archive.read("timelines.csv").decode().splitlines()
            files = {name: archive.read(name) for name in archive.namelist()}
        assert rows[0].startswith("message_id,at,service,event")
        assert len(rows) == 1 + 4 + 3  # what B sees of one, and all of two
        files["timelines.csv"] = files["timelines.csv"].replace(b"552 5.2.2", b"250 2.0.0")
        tampered = io.BytesIO()
        with zipfile.ZipFile(tampered, "w") as archive:
            for name, content in files.items():
                archive.writestr(name, content)
        with pytest.raises(DataError, match=r"timelines\.csv was changed"):
            check(tampered.getvalue(), site.public_pem)
        admin = await sign_in(http, site, "admin")
        _, log = await admin.call("GET", "/api/v1/access-log")
        exports = [e for e in log["entries"] if e["login"] == site.login("dpo-b") and "Export" in e["action"]]
        assert "patient request 2026-42" in exports[0]["target"]


async def test_the_audit_api_can_be_served_over_https_only(
    nats_server: RunningNats, database_url: str, tmp_path: Path
) -> None:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "tracing.example")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    server.cert_chain_pems[0].write_to_path(cert)
    for extra in server.cert_chain_pems[1:]:
        extra.write_to_path(cert, append=True)
    server.private_key_pem.write_to_path(key)
    port = free_port()
    settings = TracingSettings(
        **nats_server.settings("tracing"),
        database_url=database_url,
        http_port=port,
        http_tls_cert_file=cert,
        http_tls_key_file=key,
    )
    client = ssl.create_default_context()
    ca.configure_trust(client)
    async with running(build_tracing(settings)), aiohttp.ClientSession() as http:
        async with http.get(f"https://127.0.0.1:{port}/api/v1/openapi.json", ssl=client) as r:
            assert r.status == 200
        with pytest.raises(aiohttp.ClientError):
            async with http.get(f"http://127.0.0.1:{port}/api/v1/openapi.json") as r:
                await r.read()


async def test_behind_a_trusted_proxy_the_client_is_the_forwarded_address(
    audit_site: Site, nats_server: RunningNats, database_url: str
) -> None:
    """A second tracing replica, told that loopback is its ingress controller: the access log and the
    sign-in limits see the forwarded client, so one client's failures pause that client only."""
    port = free_port()
    settings = TracingSettings(
        **nats_server.settings("tracing"),
        database_url=database_url,
        http_port=port,
        password_cost=10,
        sign_in_max_failures=1,  # per login; ten per address
        trusted_proxies=["127.0.0.1/32"],  # type: ignore[list-item]
    )
    url = f"http://127.0.0.1:{port}/api/v1/session"
    async with running(build_tracing(settings)), aiohttp.ClientSession() as http:

        async def attempt(login: str, password: str, client: str) -> int:
            headers = {"X-Forwarded-For": f"203.0.113.99, {client}"}  # the first is whatever the client said
            async with http.post(url, json={"login": login, "password": password}, headers=headers) as r:
                return r.status

        for n in range(10):  # ten failed logins from one client: that client is paused
            assert await attempt(f"nobody-{n}-{audit_site.suffix}", "guess", "198.51.100.7") == 401
        assert await attempt(audit_site.login("dpo-a"), PASSWORD, "198.51.100.7") == 429
        assert await attempt(audit_site.login("dpo-a"), PASSWORD, "198.51.100.8") == 200  # another is not
    conn = await asyncpg.connect(database_url)
    try:
        peers = await conn.fetch(
            "SELECT peer, outcome FROM audit_access_log WHERE login = $1 ORDER BY seq DESC LIMIT 2",
            audit_site.login("dpo-a"),
        )
    finally:
        await conn.close()
    assert [(r["peer"], r["outcome"]) for r in peers] == [
        ("198.51.100.8", "ok"),
        ("198.51.100.7", "throttled"),
    ]
