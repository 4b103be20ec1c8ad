"""Reconcile one MssTenant: read the directory, apply the plan, and say how it went as status
conditions (``Ready``, and ``CertificatesPresent`` for the Secrets it names)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mss.controller.directory import AdminApi, AdminError, Unavailable
from mss.controller.plan import Call, plan
from mss.controller.spec import TenantSpec
from pydantic import ValidationError

log = logging.getLogger(__name__)


def condition(kind: str, ok: bool, reason: str, message: str) -> dict[str, str]:
    """A Kubernetes status condition."""
    return {
        "type": kind,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message[:1000],
        "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def reconcile(
    resource: dict[str, Any], admin: AdminApi, secret_exists: Callable[[str], bool]
) -> dict[str, Any]:
    """The status to record for ``resource`` (an MssTenant object as the Kubernetes API gives it),
    after making the directory match it. Retrying is the caller's business: a ``Ready`` condition
    with reason ``DirectoryUnavailable`` means "try again later"."""
    generation = resource.get("metadata", {}).get("generation", 0)
    status: dict[str, Any] = {"observedGeneration": generation}
    try:
        spec = TenantSpec.model_validate(resource.get("spec") or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in exc.errors())
        status["conditions"] = [condition("Ready", False, "Invalid", problems)]
        return status
    missing = [name for name in spec.certificate_secrets if not secret_exists(name)]
    certificates = condition(
        "CertificatesPresent",
        not missing,
        "Found" if not missing else "SecretMissing",
        "every certificate Secret exists" if not missing else f"missing Secrets: {', '.join(missing)}",
    )
    base = f"/api/v1/tenants/{spec.establishment}"
    try:
        tenant = admin.request(Call("GET", base))
        mailboxes = admin.request(Call("GET", f"{base}/mailboxes")) if tenant is not None else []
        steps = plan(spec, tenant, mailboxes)
        for call in steps.calls:
            admin.request(call)
    except Unavailable as exc:
        status["conditions"] = [condition("Ready", False, "DirectoryUnavailable", str(exc)), certificates]
        return status
    except AdminError as exc:
        reason = "Conflict" if exc.status == 409 else "Refused"
        status["conditions"] = [condition("Ready", False, reason, str(exc)), certificates]
        return status
    applied = len(steps.calls)
    if steps.drift:
        ready = condition("Ready", False, "Drift", "; ".join(steps.drift))
    else:
        ready = condition("Ready", True, "Reconciled", f"{applied} change(s) applied")
    status.update(
        conditions=[ready, certificates],
        domains=len(spec.domains),
        mailboxes=len(spec.mailboxes),
        unmanagedMailboxes=steps.unmanaged,
    )
    log.info("tenant reconciled", extra={"establishment": spec.establishment, "changes": applied})
    return status
