"""The audit API (``/api/v1/…`` on the tracing service's HTTP port), described by
``/api/v1/openapi.json``, and the web UI that uses it (``/ui/``).

Every route but sign-in, the OpenAPI document and the export key needs ``Authorization: Bearer
<session token>``. Every search, view and export, refused or not, goes to the access log. A message
that exists but is not the viewer's gets the same 404 as one that does not exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Annotated, Any
from urllib.parse import urlencode

import asyncpg
from aiohttp import web
from mss.bus.openapi import Operation, document
from mss.core.errors import DataError
from mss.core.patients import search_hashes
from mss.core.throttle import FailureLimiter
from mss.tracing.access import access_log, log_access
from mss.tracing.accounts import Sessions, Viewer
from mss.tracing.export import Signer, bundle
from mss.tracing.reading import reading
from mss.tracing.search import MAX_PAGE, Query, search
from mss.tracing.timeline import timeline
from pydantic import BaseModel, Field, ValidationError, field_validator

_MESSAGE_ID = re.compile(r"^[0-9A-Za-z._@<>+=-]{1,255}$")
_MAX_BODY = 64 * 1024
_MAX_EXPORT = 500
ERRORS = {
    "400": "Malformed request",
    "401": "Not signed in, or the session has ended",
    "403": "The role does not allow it",
    "404": "Unknown message (or not one of the account's establishments)",
    "422": "Invalid field: which one and why",
    "429": "Too many failed sign-ins from this login or address: wait",
}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class Credentials(BaseModel):
    """Sign in with a login and a password."""

    login: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class ExportRequest(BaseModel):
    """The messages of an audit request, and why they are exported (kept in the manifest and the log)."""

    message_ids: list[Annotated[str, Field(pattern=_MESSAGE_ID.pattern)]] = Field(
        min_length=1, max_length=_MAX_EXPORT
    )
    purpose: str = Field(min_length=1, max_length=500)


class SearchParams(BaseModel):
    """Filters of a search; all optional, all apply."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("NUL characters are not allowed")
        return value

    message_id: str = Field(default="", description="Queue id or Message-ID header")
    sender: str = Field(default="", description="Envelope sender")
    recipient: str = Field(default="", description="A recipient")
    since: str = Field(default="", description="From this date or time (ISO 8601), included")
    until: str = Field(default="", description="Up to this date or time (ISO 8601), excluded")
    status: str = Field(
        default="", description="Some recipient is QUEUED, DELIVERED, DEFERRED, BOUNCED or REFUSED"
    )
    tenant: str = Field(default="", description="One establishment (id)")
    finess: str = Field(default="", description="One establishment (FINESS)")
    patient: str = Field(default="", description="Patient identifier (INS), hashed before the search")
    rpps: str = Field(default="", description="A person (RPPS): messages from or to their mailboxes")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="Messages per page")
    before: str = Field(default="", description="Cursor: the `next` of the previous page")


class AccessParams(BaseModel):
    """A page of the access log."""

    limit: int = Field(default=100, ge=1, le=500)
    before: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="Cursor: the `next` of the previous page"
    )


@dataclass(frozen=True)
class Call:
    """What a handler gets."""

    viewer: Viewer
    match: dict[str, str]
    query: Any
    body: Any
    peer: str


class Refused(Exception):
    """The viewer may not do this (403)."""


class NotFound(Exception):
    """Unknown, or not the viewer's (404)."""


def _when(text: str, field: str) -> datetime | None:
    if not text:
        return None
    try:
        parsed = (
            datetime.fromisoformat(text)
            if "T" in text
            else datetime.combine(date.fromisoformat(text), datetime.min.time())
        )
        moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if not 1900 <= moment.astimezone(UTC).year <= 9000:
            raise ValueError("out of range")
    except (ValueError, OverflowError) as exc:
        raise DataError(f"{field}: not an ISO 8601 date or time between 1900 and 9000: {text!r}") from exc
    return moment


def _logged(request: web.Request) -> str:
    """What an access log entry records of a request: its path and query, the patient's identifier
    left out (it is never stored; the search hashes it)."""
    query = [(k, "(not recorded)" if k == "patient" else v) for k, v in request.query.items()]
    return request.path + ("?" + urlencode(query) if query else "")


def client_address(request: web.Request, proxies: list[IPv4Network | IPv6Network]) -> str:
    """The client's address: the connection's, or, when it comes from a trusted proxy (an ingress
    controller), the last address of X-Forwarded-For that is not itself a trusted proxy."""
    remote = request.remote or ""

    def trusted(address: str) -> bool:
        try:
            return any(ip_address(address) in network for network in proxies)
        except ValueError:
            return False

    if not proxies or not trusted(remote):
        return remote
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
    for address in reversed(forwarded):
        if not trusted(address):
            return address[:64]
    return remote


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


class AuditApi:
    """Routes, sign-in, role checks, access log."""

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        sessions: Callable[[], Sessions],
        signer: Signer | None,
        patient_key: bytes,
        failures: tuple[FailureLimiter, FailureLimiter],
        proxies: list[IPv4Network | IPv6Network] | None = None,
    ) -> None:
        self.pool = pool
        self.proxies = proxies or []
        self.failures = failures
        """Per login, and per client address (which tolerates more: many people share an address)."""
        self.sessions = sessions
        self.signer = signer
        self.patient_key = patient_key

    async def query(self, params: SearchParams, viewer: Viewer) -> Query | None:
        """The store's query for the API's parameters (FINESS and RPPS resolved through the directory's
        tables, the patient hashed); None when a FINESS or RPPS names no one, so nothing matches."""
        query = Query(
            message_id=params.message_id.strip(),
            sender=params.sender.strip(),
            recipient=params.recipient.strip(),
            since=_when(params.since, "since"),
            until=_when(params.until, "until"),
            status=params.status.strip().upper(),
            tenant=params.tenant.strip(),
            limit=params.limit,
        )
        if params.before:
            at, _, message_id = params.before.partition("|")
            moment = _when(at, "before")
            if moment is None or not message_id:
                raise DataError("before: not a cursor given by a previous page")
            query.before = (moment, message_id)
        if params.finess:
            tenant = await self.pool().fetchval(
                "SELECT id FROM tenants WHERE finess = $1", params.finess.strip()
            )
            if tenant is None:
                return None
            query.tenant = tenant
        if params.rpps:
            rows = await self.pool().fetch(
                "SELECT address FROM mailboxes WHERE owner_rpps = $1", params.rpps.strip()
            )
            query.addresses = [r["address"] for r in rows]
            if not query.addresses:
                return None
        if params.patient:
            if not viewer.sees_content:
                raise Refused("searching by patient is not open to support")
            if not self.patient_key:
                raise DataError("patients are not indexed here (no patient hash key)")
            query.patient_hashes = search_hashes(self.patient_key, params.patient)
        return query

    async def search(self, call: Call) -> dict[str, Any]:
        query = await self.query(call.query, call.viewer)
        if query is None:
            return {"messages": [], "next": ""}
        async with reading(self.pool(), call.viewer) as conn:
            return await search(conn, query, call.viewer)

    async def show(self, call: Call) -> dict[str, Any]:
        message_id = call.match["message_id"]
        if not _MESSAGE_ID.match(message_id):
            raise DataError("malformed message id")
        async with reading(self.pool(), call.viewer) as conn:
            found = await timeline(conn, message_id, call.viewer)
        if found is None:
            raise NotFound(message_id)
        return found

    async def export(self, call: Call) -> web.Response:
        if not call.viewer.may_export:
            raise Refused("exports are for GHT administrators and establishment auditors")
        if self.signer is None:
            return _error(503, "mss.unavailable", "no export signing key is configured")
        request: ExportRequest = call.body
        timelines = []
        async with reading(self.pool(), call.viewer) as conn:
            for message_id in dict.fromkeys(request.message_ids):
                found = await timeline(conn, message_id, call.viewer)
                if found is None:
                    raise NotFound(message_id)
                timelines.append(found)
        data = bundle(self.signer, timelines, call.viewer.login, request.purpose)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return web.Response(
            body=data,
            content_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="audit-export-{stamp}.zip"'},
        )

    async def access(self, call: Call) -> dict[str, Any]:
        if not call.viewer.sees_access_log:
            raise Refused("the access log is for GHT administrators")
        params: AccessParams = call.query
        return await access_log(self.pool(), call.viewer, params.limit, params.before)

    async def me(self, call: Call) -> dict[str, Any]:
        v = call.viewer
        return {
            "login": v.login,
            "role": v.role,
            "ght_id": v.ght_id,
            "establishments": list(v.tenants),
            "sees_content": v.sees_content,
            "may_export": v.may_export,
            "sees_access_log": v.sees_access_log,
        }

    def operations(self) -> list[Operation]:
        """Every authenticated route (the target of each access log entry is its second element)."""
        return [
            Operation("GET", "/api/v1/me", "The signed-in account and what it may see", None, self.me),
            Operation(
                "GET",
                "/api/v1/messages",
                "Search messages, newest first",
                None,
                self.search,
                query=SearchParams,
            ),
            Operation("GET", "/api/v1/messages/{message_id}", "A message's timeline", None, self.show),
            Operation(
                "POST",
                "/api/v1/exports",
                "Export timelines as a signed zip (JSON, CSV)",
                ExportRequest,
                self.export,
                produces="application/zip",
            ),
            Operation(
                "GET",
                "/api/v1/access-log",
                "Who searched, viewed or exported what",
                None,
                self.access,
                query=AccessParams,
            ),
        ]

    async def viewer(self, request: web.Request) -> tuple[Viewer | None, str]:
        """The viewer of the bearer token presented, and the token."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token or len(token) > 256:
            return None, ""
        return await self.sessions().viewer(token), token

    def wrap(self, operation: Operation) -> Callable[[web.Request], Awaitable[web.Response]]:
        """An aiohttp handler: authenticate, parse, call, log, map errors."""
        action = operation.summary

        async def handle(request: web.Request) -> web.Response:
            viewer, _ = await self.viewer(request)
            if viewer is None:
                return _error(401, "mss.unauthorised", "sign in first")
            peer = client_address(request, self.proxies)
            target = _logged(request)
            outcome = "error"  # until the handler returns
            try:
                query = operation.query.model_validate(dict(request.query)) if operation.query else None
                body = None
                if operation.body is not None:
                    raw = await request.content.read(_MAX_BODY + 1)
                    if len(raw) > _MAX_BODY:
                        raise DataError(f"body larger than {_MAX_BODY} bytes")
                    body = operation.body.model_validate_json(raw)
                    target += " " + json.dumps(body.model_dump(), ensure_ascii=False)
                result = await operation.handler(Call(viewer, dict(request.match_info), query, body, peer))
                response = result if isinstance(result, web.Response) else web.json_response(result)
                outcome = "ok" if response.status < 400 else f"status {response.status}"
                return response
            except ValidationError as exc:
                outcome = "invalid"
                fields = [
                    {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
                ]
                return web.json_response(
                    {"error": "mss.invalid", "message": "invalid fields", "fields": fields}, status=422
                )
            except DataError as exc:
                outcome = "invalid"
                return _error(422, exc.code, exc.message)
            except Refused as exc:
                outcome = "refused"
                return _error(403, "mss.forbidden", str(exc))
            except NotFound as exc:
                outcome = "not found"
                return _error(404, "mss.not_found", f"unknown message {exc}")
            finally:
                await log_access(
                    self.pool(), viewer.login, action, target, viewer=viewer, outcome=outcome, peer=peer
                )

        return handle

    async def sign_in(self, request: web.Request) -> web.Response:
        peer = client_address(request, self.proxies)
        try:
            raw = await request.content.read(_MAX_BODY + 1)
            credentials = Credentials.model_validate_json(raw[:_MAX_BODY])
        except ValidationError:
            return _error(400, "mss.malformed", 'send {"login": …, "password": …}')
        login = credentials.login.strip().lower()[:128]
        per_login, per_peer = self.failures
        if per_login.blocked([login]) or per_peer.blocked([peer]):
            await log_access(self.pool(), login, "sign in", "", outcome="throttled", peer=peer)
            return _error(429, "mss.throttled", "too many failed sign-ins: wait a few minutes")
        signed = await self.sessions().sign_in(credentials.login, credentials.password)
        if signed is None:
            per_login.failed([login])
            per_peer.failed([peer])
            await log_access(self.pool(), login, "sign in", "", outcome="refused", peer=peer)
            return _error(401, "mss.unauthorised", "wrong login or password")
        per_login.succeeded(login)
        token, viewer = signed
        await log_access(self.pool(), viewer.login, "sign in", "", viewer=viewer, peer=peer)
        return web.json_response({"token": token, "login": viewer.login, "role": viewer.role})

    async def sign_out(self, request: web.Request) -> web.Response:
        viewer, token = await self.viewer(request)
        if viewer is None:
            return _error(401, "mss.unauthorised", "sign in first")
        await self.sessions().sign_out(token)
        await log_access(
            self.pool(),
            viewer.login,
            "sign out",
            "",
            viewer=viewer,
            peer=client_address(request, self.proxies),
        )
        return web.Response(status=204)

    async def export_key(self, _: web.Request) -> web.Response:
        if self.signer is None:
            return _error(404, "mss.not_found", "no export signing key is configured")
        return web.Response(body=self.signer.public_pem(), content_type="application/x-pem-file")

    def mount(self, app: web.Application) -> None:
        """Add the API, its OpenAPI document and the UI to the service's HTTP application."""
        operations = self.operations()
        public = [
            Operation(
                "POST", "/api/v1/session", "Sign in: a session token", Credentials, self.sign_in, public=True
            ),
            Operation("DELETE", "/api/v1/session", "Sign out", None, self.sign_out, status=204),
            Operation(
                "GET",
                "/api/v1/exports/key",
                "The public key that checks exports (PEM)",
                None,
                self.export_key,
                produces="application/x-pem-file",
                public=True,
            ),
        ]
        spec = document(operations + public, "mss audit API", ERRORS)
        for operation in operations:
            app.router.add_route(operation.method, operation.path, self.wrap(operation))
        for operation in public:
            app.router.add_route(operation.method, operation.path, operation.handler)

        async def openapi(_: web.Request) -> web.Response:
            return web.json_response(spec)

        app.router.add_get("/api/v1/openapi.json", openapi)
        ui = resources.files("mss.tracing") / "ui"

        async def page(request: web.Request) -> web.Response:
            name = request.match_info.get("name") or "index.html"
            types = {
                ".html": "text/html",
                ".js": "text/javascript",
                ".css": "text/css",
                ".svg": "image/svg+xml",
            }
            kind = next((t for suffix, t in types.items() if name.endswith(suffix)), None)
            if kind is None or "/" in name or not (ui / name).is_file():
                raise web.HTTPNotFound()
            return web.Response(body=(ui / name).read_bytes(), content_type=kind, charset="utf-8")

        async def home(_: web.Request) -> web.Response:
            raise web.HTTPFound("/ui/")

        app.router.add_get("/", home)
        app.router.add_get("/ui/", page)
        app.router.add_get("/ui/{name}", page)

        @web.middleware
        async def secure(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            response = await handler(request)
            response.headers.update(_HEADERS)
            return response

        app.middlewares.append(secure)
