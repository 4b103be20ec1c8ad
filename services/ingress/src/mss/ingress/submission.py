"""SMTP AUTH at submission (RFC 4954): PLAIN, LOGIN and XOAUTH2, checked by the directory.

These are aiosmtpd ``auth_<MECHANISM>`` hooks: each reads the client's credentials (initial
response or challenge), asks the directory, and returns an ``AuthResult`` whose ``auth_data`` is
the :class:`Authenticated` identity that MAIL FROM is then checked against. A session that fails
too often is closed. Credentials never reach a log line.
"""

from __future__ import annotations

import binascii
import json
from base64 import b64decode

from aiosmtpd.smtp import MISSING, SMTP, AuthResult
from mss.bus import headers as hdr
from mss.bus import subjects
from mss.core.ids import new_trace_id, traceparent
from mss.ingress import replies
from mss.ingress.auth import Authenticated
from mss.ingress.handler import IngressHandler
from mss.ingress.transaction import peer_ip
from mss.v1 import AuthenticateReply, AuthenticateRequest, AuthMechanism, AuthOutcome

MECHANISMS = ("LOGIN", "PLAIN", "XOAUTH2")
_XOAUTH2_ERROR = json.dumps({"status": "401", "schemes": "bearer"}).encode()


class SubmissionHandler(IngressHandler):
    """The submission listener's handler: the ingress handler plus SMTP AUTH."""

    offers_auth = True

    async def _read(self, server: SMTP, args: list[str], challenge: str = "") -> bytes | None:
        """The client's (base64) response: given with the command or after a challenge.

        None when the client aborted or sent bad base64 (the reply is already given).
        """
        if len(args) == 1:
            data = await server.challenge_auth(challenge)
            return None if data is MISSING else data
        if args[1] == "=":  # RFC 4954: an empty initial response
            return b""
        try:
            return b64decode(args[1], validate=True)
        except binascii.Error:
            await server.push(replies.S501_BAD_BASE64)
            return None

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        """RFC 4616: ``authzid NUL authcid NUL password``; acting for someone else is refused."""
        data = await self._read(server, args)
        if data is None:
            return AuthResult(success=False, handled=True)
        fields = data.split(b"\x00")
        if len(fields) != 3 or (fields[0] and fields[0] != fields[1]):
            await server.push(replies.S501_BAD_PLAIN)
            return AuthResult(success=False, handled=True)
        return await self._check(server, AuthMechanism.AUTH_MECHANISM_PLAIN, fields[1], fields[2])

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        """The LOGIN exchange: user name, then password, each after its challenge."""
        login = await self._read(server, args, "Username:")
        if login is None:
            return AuthResult(success=False, handled=True)
        password = await self._read(server, args[:1], "Password:")
        if password is None:
            return AuthResult(success=False, handled=True)
        return await self._check(server, AuthMechanism.AUTH_MECHANISM_LOGIN, login, password)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """``user=ADDRESS ^A auth=Bearer TOKEN ^A ^A`` with a Pro Sante Connect access token.

        On failure the client gets the JSON error challenge, answers with an empty line, then 535.
        """
        data = await self._read(server, args)
        if data is None:
            return AuthResult(success=False, handled=True)
        fields = dict(f.split(b"=", 1) for f in data.split(b"\x01") if b"=" in f)
        scheme, _, token = fields.get(b"auth", b"").partition(b" ")
        if not fields.get(b"user") or scheme.lower() != b"bearer" or not token:
            await server.push(replies.S501_BAD_XOAUTH2)
            return AuthResult(success=False, handled=True)
        result = await self._check(server, AuthMechanism.AUTH_MECHANISM_XOAUTH2, fields[b"user"], token)
        invalid = not result.success and result.message == replies.S535_INVALID
        if invalid and await server.challenge_auth(_XOAUTH2_ERROR) is MISSING:
            return AuthResult(success=False, handled=True)
        return result

    async def _check(
        self, server: SMTP, mechanism: AuthMechanism.ValueType, login: bytes, secret: bytes
    ) -> AuthResult:
        """Ask the directory; close the session after too many failures in it."""
        session = server.session
        assert session is not None
        request = AuthenticateRequest(
            mechanism=mechanism,
            login=login.decode("utf-8", "replace"),
            secret=secret,
            client_address=peer_ip(session),
        )
        reply = await self.service.ask(
            subjects.AUTHENTICATE,
            request,
            AuthenticateReply,
            self.settings.auth_timeout,
            {hdr.TRACEPARENT: traceparent(new_trace_id())},
        )
        if reply is not None and reply.outcome == AuthOutcome.AUTH_OUTCOME_ACCEPTED:
            return AuthResult(
                success=True,
                auth_data=Authenticated(reply.identity, tuple(reply.senders)),
                message=replies.S235_AUTHENTICATED,
            )
        failures = getattr(session, "mss_auth_failures", 0) + 1
        session.mss_auth_failures = failures  # type: ignore[attr-defined]
        if failures >= self.settings.auth_session_failures:
            await server.push(replies.S421_TOO_MANY_AUTH_FAILURES)
            assert server.transport is not None
            server.transport.close()
            return AuthResult(success=False, handled=True)
        if reply is None or reply.outcome == AuthOutcome.AUTH_OUTCOME_TEMPFAIL:
            return AuthResult(success=False, handled=False, message=replies.S454_AUTH_UNAVAILABLE)
        if reply.outcome == AuthOutcome.AUTH_OUTCOME_THROTTLED:
            return AuthResult(success=False, handled=False, message=replies.S454_AUTH_THROTTLED)
        return AuthResult(success=False, handled=False, message=replies.S535_INVALID)
