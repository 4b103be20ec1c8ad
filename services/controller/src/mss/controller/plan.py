"""What to ask the directory's admin API so that it holds what an MssTenant declares (no I/O).

Reconciling only adds and updates: a mailbox the resource no longer lists is left as it is (the
directory may have it from the national import or an administrator), and is counted as unmanaged.
What the admin API cannot change (a FINESS, a domain's mode, a mailbox's type) is reported as drift
rather than forced."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from mss.controller.spec import TenantSpec


@dataclass(frozen=True)
class Call:
    """One admin API request."""

    method: str
    path: str
    body: dict[str, Any] | None = None


@dataclass
class Plan:
    """The requests, in order, and what cannot be made to match."""

    calls: list[Call] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    unmanaged: int = 0


def plan(spec: TenantSpec, tenant: dict[str, Any] | None, mailboxes: list[dict[str, Any]]) -> Plan:
    """The requests that bring the directory (``tenant`` as GET /api/v1/tenants/{id} gives it, or None
    if absent; its ``mailboxes`` as listed) to ``spec``."""
    out = Plan()
    base = f"/api/v1/tenants/{spec.establishment}"
    if tenant is None:
        out.calls.append(
            Call(
                "POST",
                "/api/v1/tenants",
                {"id": spec.establishment, "name": spec.name, "finess": spec.finess},
            )
        )
        domains: dict[str, dict[str, Any]] = {}
    else:
        if tenant["name"] != spec.name:
            out.calls.append(Call("PATCH", base, {"name": spec.name}))
        if spec.finess and tenant.get("finess") != spec.finess:
            out.drift.append(f"FINESS is {tenant.get('finess')} in the directory, {spec.finess} declared")
        domains = {d["name"]: d for d in tenant.get("domains", [])}
    for domain in spec.domains:
        found = domains.get(domain.name)
        wanted = {"mode": domain.mode, "smarthost": domain.smarthost, "smarthost_tls": domain.smarthost_tls}
        if found is None:
            out.calls.append(Call("POST", f"{base}/domains", {"name": domain.name, **wanted}))
            continue
        compared = ("mode", "smarthost", "smarthost_tls") if domain.mode == "proxy" else ("mode",)
        if any(found.get(key) != wanted[key] for key in compared):
            out.drift.append(f"domain {domain.name} differs in the directory: {found}")
    existing = {m["address"]: m for m in mailboxes}
    declared = {m.address for m in spec.mailboxes}
    for box in spec.mailboxes:
        found = existing.get(box.address)
        if found is None:
            out.calls.append(
                Call("POST", f"{base}/mailboxes", {"address": box.address, "type": box.type, **box.fields()})
            )
            continue
        if found["type"] != box.type:
            out.drift.append(
                f"mailbox {box.address} is {found['type']} in the directory, {box.type} declared"
            )
        if found["status"] == "deleted":
            out.drift.append(f"mailbox {box.address} was deleted: its address cannot be used again")
            continue
        changed = {name: value for name, value in box.fields().items() if found.get(name) != value}
        if changed:
            out.calls.append(Call("PATCH", f"/api/v1/mailboxes/{quote(box.address, safe='@')}", changed))
    out.unmanaged = sum(
        1 for address, m in existing.items() if address not in declared and m["status"] != "deleted"
    )
    return out
