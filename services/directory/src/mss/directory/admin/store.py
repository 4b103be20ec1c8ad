"""Changes to the registry, each in one transaction with its history row and a directory version bump.

Every change returns a :class:`Change` for the audit trail; an invalid request raises DataError
(422), NotFoundError (404) or ConflictError (409) before anything is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg
from mss.core.errors import ConflictError, DataError, NotFoundError
from mss.db.pool import Conn
from mss.directory.admin.models import (
    ALLOWED_BY_TYPE,
    DomainIn,
    GhtIn,
    MailboxFields,
    MailboxIn,
    StatusChange,
    TenantIn,
    TenantRules,
)

_TRANSITIONS = {
    ("active", "suspended"),
    ("suspended", "active"),
    ("active", "deleted"),
    ("suspended", "deleted"),
}
_TENANTS = """
SELECT t.id, t.name, t.finess, t.ght_id, t.mixed_recipients, t.max_message_bytes, t.suspended_reply,
       t.strict_national, t.rate_per_sender, t.malformed_xdm, t.audit_retention_months,
       t.content_retention_days, t.legal_hold, t.legal_hold_reason,
       coalesce((SELECT json_agg(json_build_object('name', d.name, 'mode', d.mode, 'smarthost', d.smarthost,
                                  'smarthost_tls', d.smarthost_tls)
                 ORDER BY d.name) FROM domains d WHERE d.tenant_id = t.id)::text, '[]') AS domains,
       (SELECT count(*) FROM mailboxes m WHERE m.tenant_id = t.id AND m.status <> 'deleted') AS mailboxes
FROM tenants t WHERE $1::text IS NULL OR t.id = $1 ORDER BY t.id
"""
_MAILBOXES = """
SELECT m.address, m.tenant_id, m.type, m.status, m.display_name, m.red_list, m.preferred_rank, m.description,
       m.service, m.operational_owner, m.owner_rpps, m.structure_finess, m.quota_bytes, m.max_message_bytes,
       m.certificate_dn, m.created_at, m.updated_at,
       array(SELECT d.delegate FROM delegations d WHERE d.mailbox = m.address ORDER BY d.delegate)
         AS delegates
FROM mailboxes m
"""


@dataclass(frozen=True)
class Change:
    """What an admin request changed: for the audit trail."""

    tenant_id: str
    subject: str
    detail: str


def _json(record: asyncpg.Record) -> dict[str, Any]:
    result = dict(record)
    for key, value in result.items():
        if hasattr(value, "isoformat"):
            result[key] = value.isoformat()
        elif isinstance(value, list):
            result[key] = list(value)
    return result


async def _bump(conn: Conn) -> None:
    await conn.execute("UPDATE directory_meta SET version = version + 1")


async def _history(
    conn: Conn,
    address: str,
    action: str,
    actor: str,
    detail: str = "",
    from_status: str | None = None,
    to_status: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO mailbox_events (address, action, from_status, to_status, actor, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        address,
        action,
        from_status,
        to_status,
        actor,
        detail,
    )


async def put_ght(pool: asyncpg.Pool, ght_id: str, ght: GhtIn) -> Change:
    """Create or rename the GHT of this installation (one per installation)."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("SELECT count(*) FROM ght WHERE id <> $1", ght_id):
            raise ConflictError("this installation already serves another GHT")
        await conn.execute(
            "INSERT INTO ght (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = $2",
            ght_id,
            ght.name,
        )
    return Change("", f"ght {ght_id}", f"name {ght.name!r}")


async def list_tenants(pool: asyncpg.Pool, tenant_id: str | None = None) -> list[dict[str, Any]]:
    """Establishments with their domains and count of mailboxes not deleted."""
    rows = await pool.fetch(_TENANTS, tenant_id)
    return [{**dict(r), "domains": json.loads(r["domains"])} for r in rows]


async def get_tenant(pool: asyncpg.Pool, tenant_id: str) -> dict[str, Any]:
    """One establishment; NotFoundError when unknown."""
    found = await list_tenants(pool, tenant_id)
    if not found:
        raise NotFoundError(f"no establishment {tenant_id}")
    return found[0]


async def create_tenant(pool: asyncpg.Pool, tenant: TenantIn) -> Change:
    """A new establishment of the installation's GHT."""
    async with pool.acquire() as conn, conn.transaction():
        ght = await conn.fetch("SELECT id FROM ght")
        if len(ght) != 1:
            raise ConflictError("create the GHT first (PUT /api/v1/ght/{id})")
        if await conn.fetchval("SELECT 1 FROM tenants WHERE id = $1", tenant.id):
            raise ConflictError(f"establishment {tenant.id} exists")
        if tenant.finess and await conn.fetchval("SELECT id FROM tenants WHERE finess = $1", tenant.finess):
            raise ConflictError(f"FINESS {tenant.finess} is another establishment's")
        await conn.execute(
            "INSERT INTO tenants (id, ght_id, name, finess) VALUES ($1, $2, $3, $4)",
            tenant.id,
            ght[0]["id"],
            tenant.name,
            tenant.finess,
        )
    return Change(
        tenant.id, f"establishment {tenant.id}", f"created: {tenant.name!r}, FINESS {tenant.finess}"
    )


async def update_tenant(pool: asyncpg.Pool, tenant_id: str, rules: TenantRules) -> Change:
    """Change an establishment's name or rules."""
    fields = {k: v for k, v in rules.model_dump(exclude_unset=True).items() if v is not None}
    if not fields:
        raise DataError("nothing to change")
    if fields.get("content_retention_days") == 0:
        fields["content_retention_days"] = None  # kept until deleted
    if fields.get("legal_hold") is False:
        fields["legal_hold_reason"] = ""
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE", tenant_id):
            raise NotFoundError(f"no establishment {tenant_id}")
        assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(fields, start=2))
        update = f"UPDATE tenants SET {assignments} WHERE id = $1"  # noqa: S608 (model fields)
        await conn.execute(update, tenant_id, *fields.values())
        await _bump(conn)
    detail = ", ".join(f"{k} = {v}" for k, v in sorted(fields.items()))
    return Change(tenant_id, f"establishment {tenant_id}", f"updated: {detail}")


async def add_domain(pool: asyncpg.Pool, tenant_id: str, domain: DomainIn) -> Change:
    """A new domain of an establishment."""
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT 1 FROM tenants WHERE id = $1", tenant_id):
            raise NotFoundError(f"no establishment {tenant_id}")
        owner = await conn.fetchval("SELECT tenant_id FROM domains WHERE name = $1", domain.name)
        if owner is not None:
            raise ConflictError(f"domain {domain.name} exists" + ("" if owner == tenant_id else " elsewhere"))
        await conn.execute(
            "INSERT INTO domains (name, tenant_id, mode, smarthost, smarthost_tls)"
            " VALUES ($1, $2, $3, $4, $5)",
            domain.name,
            tenant_id,
            domain.mode,
            domain.smarthost,
            domain.smarthost_tls,
        )
        await _bump(conn)
    detail = f"added in {domain.mode} mode" + (
        f", TLS {domain.smarthost_tls}" if domain.mode == "proxy" else ""
    )
    return Change(tenant_id, f"domain {domain.name}", detail)


def _check_fields(kind: str, fields: dict[str, Any]) -> None:
    """Fields allowed for the mailbox type; names are model fields only (they become SQL columns)."""
    for name, value in fields.items():
        if name not in MailboxFields.model_fields:
            raise DataError(f"unknown field {name}")
        allowed = ALLOWED_BY_TYPE.get(name)
        if value is not None and allowed is not None and kind not in allowed:
            raise DataError(f"{name} is not a field of {kind} mailboxes (only {', '.join(sorted(allowed))})")


async def list_mailboxes(
    pool: asyncpg.Pool, tenant_id: str, status: str | None = None
) -> list[dict[str, Any]]:
    """The mailboxes of an establishment, optionally of one status."""
    await get_tenant(pool, tenant_id)
    rows = await pool.fetch(
        _MAILBOXES + " WHERE m.tenant_id = $1 AND ($2::text IS NULL OR m.status = $2) ORDER BY m.address",
        tenant_id,
        status,
    )
    return [_json(r) for r in rows]


async def get_mailbox(pool: asyncpg.Pool, address: str) -> dict[str, Any]:
    """One mailbox with its delegates; NotFoundError when unknown."""
    row = await pool.fetchrow(_MAILBOXES + " WHERE m.address = $1", address.lower())
    if row is None:
        raise NotFoundError(f"no mailbox {address}")
    return _json(row)


async def create_mailbox(pool: asyncpg.Pool, tenant_id: str, box: MailboxIn, actor: str) -> Change:
    """A new mailbox in one of the establishment's domains; an address is never reused."""
    fields = box.model_dump(exclude={"address", "type"}, exclude_none=True)
    _check_fields(box.type, fields)
    domain = box.address.rpartition("@")[2]
    async with pool.acquire() as conn, conn.transaction():
        owner = await conn.fetchval("SELECT tenant_id FROM domains WHERE name = $1", domain)
        if not await conn.fetchval("SELECT 1 FROM tenants WHERE id = $1", tenant_id):
            raise NotFoundError(f"no establishment {tenant_id}")
        if owner != tenant_id:
            raise DataError(f"{box.address} is outside the domains of establishment {tenant_id}")
        status = await conn.fetchval("SELECT status FROM mailboxes WHERE address = $1", box.address)
        if status is not None:
            raise ConflictError(
                f"{box.address} exists" if status != "deleted" else f"{box.address} was deleted: never reused"
            )
        columns = ["address", "tenant_id", "domain", "type", *fields]
        values = [box.address, tenant_id, domain, box.type, *fields.values()]
        marks = ", ".join(f"${n}" for n in range(1, len(values) + 1))
        insert = f"INSERT INTO mailboxes ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 (model fields)
        await conn.execute(insert, *values)
        await _history(conn, box.address, "created", actor, box.type, to_status="active")
        await _bump(conn)
    return Change(tenant_id, f"mailbox {box.address}", f"created ({box.type})")


async def _current(conn: Conn, address: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT tenant_id, type, status FROM mailboxes WHERE address = $1 FOR UPDATE", address.lower()
    )
    if row is None:
        raise NotFoundError(f"no mailbox {address}")
    return row


async def update_mailbox(pool: asyncpg.Pool, address: str, patch: MailboxFields, actor: str) -> Change:
    """Change fields other than address and type (those are final)."""
    fields = patch.model_dump(exclude_unset=True)
    if not fields:
        raise DataError("nothing to change")
    async with pool.acquire() as conn, conn.transaction():
        current = await _current(conn, address)
        if current["status"] == "deleted":
            raise ConflictError(f"{address} is deleted")
        _check_fields(current["type"], fields)
        if "red_list" in fields and fields["red_list"] is None:
            raise DataError("red_list is true or false")
        assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(fields, start=2))
        update = f"UPDATE mailboxes SET {assignments} WHERE address = $1"  # noqa: S608 (model fields)
        await conn.execute(update, address.lower(), *fields.values())
        detail = ", ".join(sorted(fields))
        await _history(conn, address.lower(), "updated", actor, detail)
        await _bump(conn)
    return Change(current["tenant_id"], f"mailbox {address.lower()}", f"updated: {detail}")


async def change_status(pool: asyncpg.Pool, address: str, change: StatusChange, actor: str) -> Change:
    """A lifecycle transition; deleting also drops the mailbox's password and delegations."""
    async with pool.acquire() as conn, conn.transaction():
        current = await _current(conn, address)
        before = current["status"]
        if (before, change.status) not in _TRANSITIONS:
            raise ConflictError(f"{address} is {before}: it cannot become {change.status}")
        address = address.lower()
        await conn.execute("UPDATE mailboxes SET status = $2 WHERE address = $1", address, change.status)
        if change.status == "deleted":
            await conn.execute("DELETE FROM mailbox_credentials WHERE address = $1", address)
            await conn.execute("DELETE FROM delegations WHERE mailbox = $1 OR delegate = $1", address)
        await _history(conn, address, "status", actor, change.reason, before, change.status)
        await _bump(conn)
    return Change(current["tenant_id"], f"mailbox {address}", f"{before} → {change.status}: {change.reason}")


async def set_delegation(
    pool: asyncpg.Pool, mailbox: str, delegate: str, granted: bool, actor: str
) -> Change:
    """Let a personal mailbox send as an organisational one of the GHT (or stop it)."""
    mailbox, delegate = mailbox.lower(), delegate.lower()
    async with pool.acquire() as conn, conn.transaction():
        target = await _current(conn, mailbox)
        if target["type"] not in ("ORG", "CAB"):
            raise DataError(f"{mailbox} is {target['type']}: only organisational mailboxes are delegated")
        if target["status"] == "deleted":
            raise ConflictError(f"{mailbox} is deleted")
        if granted:
            person = await conn.fetchrow("SELECT type, status FROM mailboxes WHERE address = $1", delegate)
            if person is None:
                raise NotFoundError(f"no mailbox {delegate}")
            if person["type"] != "PER" or person["status"] == "deleted":
                raise DataError(f"{delegate} is not a personal mailbox in service")
            done = await conn.execute(
                "INSERT INTO delegations (mailbox, delegate) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                mailbox,
                delegate,
            )
        else:
            done = await conn.execute(
                "DELETE FROM delegations WHERE mailbox = $1 AND delegate = $2", mailbox, delegate
            )
        if done.endswith(" 0"):
            raise ConflictError(f"{delegate} is {'already' if granted else 'not'} a delegate of {mailbox}")
        action = "delegated" if granted else "undelegated"
        await _history(conn, mailbox, action, actor, delegate)
        await _bump(conn)
    return Change(target["tenant_id"], f"mailbox {mailbox}", f"{action} to {delegate}")


async def history(pool: asyncpg.Pool, address: str) -> list[dict[str, Any]]:
    """Every change of a mailbox, oldest first."""
    await get_mailbox(pool, address)
    rows = await pool.fetch(
        "SELECT at, action, from_status, to_status, actor, detail FROM mailbox_events"
        " WHERE address = $1 ORDER BY seq",
        address.lower(),
    )
    return [_json(r) for r in rows]
