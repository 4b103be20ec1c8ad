"""The admin REST API (``/api/v1/…`` on the directory's HTTP port), described by ``/api/v1/openapi.json``.

Callers present ``Authorization: Bearer <token>``; each token is named (``MSS_DIRECTORY_ADMIN_TOKENS``)
and that name is the actor recorded in the mailbox history and the audit trail of every change.
Errors are ``{"error": code, "message": text}`` with 400 (malformed), 401, 404, 409 or 422.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web
from mss.bus.audit import Auditor
from mss.bus.openapi import Operation, document
from mss.core.errors import ConflictError, DataError, NotFoundError
from mss.directory.admin import store
from mss.directory.admin.models import (
    DomainIn,
    GhtIn,
    MailboxFields,
    MailboxIn,
    StatusChange,
    TenantIn,
    TenantRules,
)
from mss.directory.correspondents import correspondents
from mss.v1 import AuditCode
from pydantic import ValidationError

log = logging.getLogger(__name__)

ERRORS = {
    "400": "Malformed body",
    "401": "No valid bearer token",
    "404": "Unknown establishment, domain or mailbox",
    "409": "Conflicts with what exists (duplicate, address used before, transition not allowed)",
    "422": "Invalid field: which one and why",
}

_STATUS = {DataError: 422, NotFoundError: 404, ConflictError: 409}
_MAX_BODY = 65_536


@dataclass
class Call:
    """One authenticated request: who, the path parameters, the query and the validated body."""

    actor: str
    match: dict[str, str]
    query: dict[str, str]
    body: Any


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


class AdminApi:
    """Routes, authentication, validation, audit."""

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        tokens: dict[str, str],
        auditor: Auditor,
        changed: Callable[[], Awaitable[None]],
        limited_to: dict[str, str] | None = None,
    ) -> None:
        self.pool = pool
        self.changed = changed
        self.tokens = {name: token.encode() for name, token in tokens.items() if token}
        self.auditor = auditor
        self.limited_to = limited_to or {}
        """Tokens limited to one establishment: name → establishment id (the others are GHT-wide)."""

    def actor(self, request: web.Request) -> str | None:
        """The name of the token presented, or None."""
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            return None
        found = None
        for name, token in self.tokens.items():  # compare with every token: constant time in the match
            if hmac.compare_digest(token, presented.encode()):
                found = name
        return found

    def wrap(self, operation: Operation) -> Callable[[web.Request], Awaitable[web.Response]]:
        """An aiohttp handler: authenticate, parse, call, map errors, audit changes."""

        async def handle(request: web.Request) -> web.Response:
            actor = self.actor(request)
            if actor is None:
                log.warning("admin request refused", extra={"path": request.path, "client": request.remote})
                return _error(401, "mss.unauthorised", "a valid bearer token is required")
            body: Any = None
            if operation.body is not None:
                try:
                    raw = await request.content.read(_MAX_BODY + 1)
                    if len(raw) > _MAX_BODY:
                        return _error(413, "mss.too_large", f"body larger than {_MAX_BODY} bytes")
                    data = json.loads(raw or b"null")
                    if operation.body is MailboxFields and isinstance(data, dict):
                        frozen = sorted({"address", "type", "tenant_id"} & data.keys())
                        if frozen:
                            raise DataError(f"{', '.join(frozen)} cannot change after creation")
                    body = operation.body.model_validate(data)
                except ValueError as exc:
                    if isinstance(exc, ValidationError):
                        return web.json_response(
                            {"error": "mss.invalid", "message": "invalid fields", "fields": _fields(exc)},
                            status=422,
                        )
                    return _error(400, "mss.malformed", f"body is not JSON: {exc}")
                except DataError as exc:
                    return _error(422, exc.code, exc.message)
            call = Call(actor, dict(request.match_info), dict(request.query), body)
            try:
                refusal = await self.out_of_scope(actor, request.method, call.match)
                if refusal is not None:
                    return refusal
                result = await operation.handler(call)
                establishment = self.limited_to.get(actor)
                if establishment is not None and request.method == "GET" and call.match == {}:
                    result = [t for t in result if t.get("id") == establishment]  # the establishment list
            except (DataError, NotFoundError, ConflictError) as exc:
                return _error(_STATUS[type(exc)], exc.code, exc.message)
            except asyncpg.IntegrityConstraintViolationError as exc:  # a race lost to another change
                return _error(409, "mss.conflict", str(exc).split("\n")[0])
            if isinstance(result, store.Change):
                await self.changed()  # this replica's lookups see the change before the client does
                await self._audit(actor, result)
                return web.json_response(
                    {"changed": result.subject, "detail": result.detail}, status=operation.status
                )
            return web.json_response(result)

        return handle

    async def out_of_scope(self, actor: str, method: str, match: dict[str, str]) -> web.Response | None:
        """The refusal of a request beyond what a token limited to one establishment may see or change
        (404 for what belongs to another, as if it did not exist), or None."""
        establishment = self.limited_to.get(actor)
        if establishment is None:
            return None
        if not match or "ght_id" in match:  # the GHT and its establishments: reading the list (filtered)
            if method == "GET" and not match:
                return None
            return _error(403, "mss.forbidden", f"this token is limited to establishment {establishment}")
        owners = set()
        if "tenant_id" in match:
            owners.add(match["tenant_id"])
        for key in ("address", "delegate"):
            if key in match:
                owners.add(
                    await self.pool().fetchval(
                        "SELECT tenant_id FROM mailboxes WHERE address = $1", match[key].strip().lower()
                    )
                )
        if owners - {establishment, None} or (owners == {None} and "tenant_id" not in match):
            return _error(404, "mss.not_found", "no such establishment or mailbox for this token")
        return None

    async def _audit(self, actor: str, change: store.Change) -> None:
        event = self.auditor.event(
            code=AuditCode.AUDIT_CODE_DIRECTORY_CHANGED,
            tenant_id=change.tenant_id,
            recipient=change.subject.removeprefix("mailbox ")
            if change.subject.startswith("mailbox ")
            else "",
            reason=f"by {actor}: {change.subject} {change.detail}",
        )
        try:
            await self.auditor.emit(event)
        except Exception:  # the change is committed and in the mailbox history; say so loudly
            log.error("directory change not audited", extra={"subject": change.subject, "actor": actor})

    def operations(self) -> list[Operation]:
        """Every route of the API."""
        pool = self.pool
        return [
            Operation(
                "PUT",
                "/api/v1/ght/{ght_id}",
                "Create or rename the GHT",
                GhtIn,
                lambda c: store.put_ght(pool(), c.match["ght_id"], c.body),
            ),
            Operation(
                "GET", "/api/v1/tenants", "List establishments", None, lambda c: store.list_tenants(pool())
            ),
            Operation(
                "POST",
                "/api/v1/tenants",
                "Create an establishment",
                TenantIn,
                lambda c: store.create_tenant(pool(), c.body),
                status=201,
            ),
            Operation(
                "GET",
                "/api/v1/tenants/{tenant_id}",
                "Show an establishment",
                None,
                lambda c: store.get_tenant(pool(), c.match["tenant_id"]),
            ),
            Operation(
                "PATCH",
                "/api/v1/tenants/{tenant_id}",
                "Change an establishment's name or rules",
                TenantRules,
                lambda c: store.update_tenant(pool(), c.match["tenant_id"], c.body),
            ),
            Operation(
                "POST",
                "/api/v1/tenants/{tenant_id}/domains",
                "Add a domain",
                DomainIn,
                lambda c: store.add_domain(pool(), c.match["tenant_id"], c.body),
                status=201,
            ),
            Operation(
                "GET",
                "/api/v1/tenants/{tenant_id}/mailboxes",
                "List mailboxes (?status=)",
                None,
                lambda c: store.list_mailboxes(pool(), c.match["tenant_id"], c.query.get("status")),
            ),
            Operation(
                "POST",
                "/api/v1/tenants/{tenant_id}/mailboxes",
                "Create a mailbox",
                MailboxIn,
                lambda c: store.create_mailbox(pool(), c.match["tenant_id"], c.body, c.actor),
                status=201,
            ),
            Operation(
                "GET",
                "/api/v1/tenants/{tenant_id}/correspondents",
                "Who it exchanged with, and whether each is MSSante (?limit=)",
                None,
                lambda c: self.list_correspondents(c.match["tenant_id"], c.query.get("limit", "1000")),
            ),
            Operation(
                "GET",
                "/api/v1/mailboxes/{address}",
                "Show a mailbox",
                None,
                lambda c: store.get_mailbox(pool(), c.match["address"]),
            ),
            Operation(
                "PATCH",
                "/api/v1/mailboxes/{address}",
                "Change fields (not address, type)",
                MailboxFields,
                lambda c: store.update_mailbox(pool(), c.match["address"], c.body, c.actor),
            ),
            Operation(
                "POST",
                "/api/v1/mailboxes/{address}/status",
                "Suspend, reactivate or delete",
                StatusChange,
                lambda c: store.change_status(pool(), c.match["address"], c.body, c.actor),
            ),
            Operation(
                "PUT",
                "/api/v1/mailboxes/{address}/delegates/{delegate}",
                "Delegate to a person",
                None,
                lambda c: store.set_delegation(
                    pool(), c.match["address"], c.match["delegate"], True, c.actor
                ),
            ),
            Operation(
                "DELETE",
                "/api/v1/mailboxes/{address}/delegates/{delegate}",
                "End a delegation",
                None,
                lambda c: store.set_delegation(
                    pool(), c.match["address"], c.match["delegate"], False, c.actor
                ),
            ),
            Operation(
                "GET",
                "/api/v1/mailboxes/{address}/history",
                "Every change of a mailbox",
                None,
                lambda c: store.history(pool(), c.match["address"]),
            ),
        ]

    async def list_correspondents(self, tenant_id: str, limit: str) -> list[dict[str, Any]]:
        """The establishment's correspondents (404 when it does not exist)."""
        if not limit.isdigit() or not 1 <= int(limit) <= 100_000:
            raise DataError("limit is a number from 1 to 100000")
        await store.get_tenant(self.pool(), tenant_id)
        return await correspondents(self.pool(), tenant_id, int(limit))

    def mount(self, app: web.Application) -> None:
        """Add the routes and the OpenAPI document to the service's HTTP application."""
        operations = self.operations()
        spec = document(operations, "mss directory admin API", ERRORS)
        for operation in operations:
            app.router.add_route(operation.method, operation.path, self.wrap(operation))

        async def openapi(_: web.Request) -> web.Response:
            return web.json_response(spec)

        app.router.add_get("/api/v1/openapi.json", openapi)


def _fields(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in exc.errors()
    ]
