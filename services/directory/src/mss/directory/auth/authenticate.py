"""Deciding who a submission client is and which mailboxes it may send as (R-AUTH-2/3/5).

* PLAIN / LOGIN: the login is a personal or organisational mailbox with a password; an active
  personal mailbox may also send as the organisational mailboxes delegated to it.
* XOAUTH2: the login is a mailbox address, the secret a Pro Sante Connect token; the person the
  token names (RPPS) may open their own personal mailboxes and the ones delegated to them.
* Applicative mailboxes never authenticate here: they present their certificate (R-TLS-6).

Every failure is counted against the login and the client address, and audited with its reason;
the secret itself is never logged, audited or kept.
"""

from __future__ import annotations

import asyncio

import asyncpg
from mss.bus.audit import Auditor
from mss.core.errors import UnavailableError
from mss.core.passwords import Cost, decoy, verify_password
from mss.core.sessions import SessionSigner
from mss.core.throttle import FailureLimiter
from mss.directory.auth.introspection import Introspector, TokenRefused
from mss.directory.lookup import normalise
from mss.v1 import AuditCode, AuthenticateReply, AuthenticateRequest, AuthMechanism, AuthOutcome

_CREDENTIALS = """
SELECT m.type, m.status, m.tenant_id, c.password_hash
FROM mailboxes m LEFT JOIN mailbox_credentials c ON c.address = m.address
WHERE m.address = $1
"""
_OWNED = """
SELECT address FROM mailboxes WHERE owner_rpps = $1 AND type = 'PER' AND status = 'active' ORDER BY address
"""
_DELEGATED = """
SELECT DISTINCT d.mailbox FROM delegations d JOIN mailboxes m ON m.address = d.mailbox
WHERE d.delegate = ANY($1::text[]) AND m.type IN ('ORG', 'CAB') AND m.status = 'active'
ORDER BY d.mailbox
"""
_TENANT = "SELECT tenant_id FROM mailboxes WHERE address = $1"
_ACTIVE = "SELECT type FROM mailboxes WHERE address = $1 AND status = 'active'"
_PASSWORD_TYPES = {"PER", "ORG", "CAB"}


async def mailboxes_of(pool: asyncpg.Pool, identity: str) -> list[str]:
    """The mailboxes an authenticated identity acts for (sends as, reads): a person's own ("RPPS n":
    every active personal mailbox of that RPPS; an address: that mailbox) and the organisational
    ones delegated to them. Applicative mailboxes act for no one here."""
    if identity.startswith("RPPS "):
        owned = [r["address"] for r in await pool.fetch(_OWNED, identity.removeprefix("RPPS ").strip())]
    else:
        kind = await pool.fetchval(_ACTIVE, identity.strip().lower())
        if kind not in _PASSWORD_TYPES:
            return []
        owned = [identity.strip().lower()]
        if kind != "PER":
            return owned
    delegated = [r["mailbox"] for r in await pool.fetch(_DELEGATED, owned)] if owned else []
    return owned + delegated


def _invalid(reason: str) -> AuthenticateReply:
    return AuthenticateReply(outcome=AuthOutcome.AUTH_OUTCOME_INVALID, reason=reason)


class Authenticator:
    """Answers AuthenticateRequest from the directory's mailboxes, credentials and delegations."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        auditor: Auditor,
        limiter: FailureLimiter,
        introspector: Introspector | None,
        cost: Cost,
        hash_workers: int,
        sessions: SessionSigner | None = None,
    ) -> None:
        self.pool = pool
        self.auditor = auditor
        self.limiter = limiter
        self.introspector = introspector
        self.cost = cost
        self.hashing = asyncio.Semaphore(hash_workers)
        self.sessions = sessions
        """Signs the proof of each accepted sign-in (None: no session key, no mailbox API)."""

    async def authenticate(self, request: AuthenticateRequest, trace_id: str) -> AuthenticateReply:
        """Decide, count failures, audit."""
        parts = normalise(request.login)
        login = parts[0] if parts else request.login.strip().lower()[:320]
        keys = [f"login:{login}", f"client:{request.client_address}"]
        mechanism = AuthMechanism.Name(request.mechanism).removeprefix("AUTH_MECHANISM_")
        tenant = ""
        blocked = self.limiter.blocked(keys)
        if blocked is not None:
            reply = AuthenticateReply(
                outcome=AuthOutcome.AUTH_OUTCOME_THROTTLED, reason=f"too many failures for {blocked}"
            )
        elif parts is None:
            reply = _invalid("login is not a mailbox address")
        elif request.mechanism in (AuthMechanism.AUTH_MECHANISM_PLAIN, AuthMechanism.AUTH_MECHANISM_LOGIN):
            reply, tenant = await self._password(login, request.secret)
        elif request.mechanism == AuthMechanism.AUTH_MECHANISM_XOAUTH2:
            reply, tenant = await self._token(login, request.secret)
        else:
            reply = _invalid("unknown mechanism")
        if reply.outcome == AuthOutcome.AUTH_OUTCOME_INVALID:
            self.limiter.failed(keys)
        elif reply.outcome == AuthOutcome.AUTH_OUTCOME_ACCEPTED:
            self.limiter.succeeded(keys[0])
            if self.sessions is not None:
                reply.session = self.sessions.sign(reply.identity)
        await self._audit(request, login, mechanism, reply, tenant, trace_id)
        return reply

    async def _password(self, login: str, password: bytes) -> tuple[AuthenticateReply, str]:
        row = await self.pool.fetchrow(_CREDENTIALS, login)
        stored = row["password_hash"] if row is not None and row["password_hash"] else decoy(self.cost)
        async with self.hashing:  # the CPU is bounded: at most hash_workers hashes at once
            matches = await asyncio.to_thread(verify_password, stored, password)
        if row is None or not row["password_hash"]:
            return _invalid("unknown login or no password set"), row["tenant_id"] if row else ""
        tenant = row["tenant_id"]
        if not matches:
            return _invalid("wrong password"), tenant
        if row["type"] not in _PASSWORD_TYPES:
            return _invalid(f"{row['type']} mailboxes authenticate by certificate"), tenant
        if row["status"] != "active":
            return _invalid(f"mailbox is {row['status']}"), tenant
        return self._accepted(login, await mailboxes_of(self.pool, login)), tenant

    async def _token(self, login: str, token: bytes) -> tuple[AuthenticateReply, str]:
        tenant = await self.pool.fetchval(_TENANT, login) or ""
        if self.introspector is None:
            return _invalid("XOAUTH2 is not configured (no introspection endpoint)"), tenant
        try:
            rpps = await self.introspector.rpps(token.decode("utf-8", "replace"))
        except TokenRefused as exc:
            return _invalid(exc.message), tenant
        except UnavailableError as exc:
            reply = AuthenticateReply(outcome=AuthOutcome.AUTH_OUTCOME_TEMPFAIL, reason=exc.message)
            return reply, tenant
        senders = await mailboxes_of(self.pool, f"RPPS {rpps}")
        if login not in senders:
            return _invalid(f"RPPS {rpps} may not open {login}"), tenant
        return self._accepted(f"RPPS {rpps}", senders), tenant

    @staticmethod
    def _accepted(identity: str, senders: list[str]) -> AuthenticateReply:
        return AuthenticateReply(
            outcome=AuthOutcome.AUTH_OUTCOME_ACCEPTED, identity=identity, senders=senders, reason="accepted"
        )

    async def _audit(
        self,
        request: AuthenticateRequest,
        login: str,
        mechanism: str,
        reply: AuthenticateReply,
        tenant: str,
        trace_id: str,
    ) -> None:
        accepted = reply.outcome == AuthOutcome.AUTH_OUTCOME_ACCEPTED
        outcome = AuthOutcome.Name(reply.outcome).removeprefix("AUTH_OUTCOME_").lower()
        detail = f"as {reply.identity}, may send as {', '.join(reply.senders)}" if accepted else reply.reason
        event = self.auditor.event(
            code=AuditCode.AUDIT_CODE_AUTH_SUCCEEDED if accepted else AuditCode.AUDIT_CODE_AUTH_FAILED,
            tenant_id=tenant,
            mail_from=login,
            reason=f"{mechanism} {outcome} from {request.client_address}: {detail}",
            trace_id=trace_id,
        )
        try:
            await self.auditor.emit(event)
        except Exception as exc:  # no unaudited authentication: the client is told to retry
            raise UnavailableError(f"authentication not audited: {type(exc).__name__}") from exc
