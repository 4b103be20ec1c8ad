"""Pro Sante Connect access tokens, checked by OAuth 2.0 token introspection (RFC 7662, R-AUTH-3).

A POST of the token with our client credentials (HTTP Basic) to the configured endpoint; the token
is valid when the answer says ``active``, has not expired, comes from the expected issuer (when one
is configured), was issued to one of the applications we accept (its ``aud``, ``azp`` or
``client_id``; by default our own client id), grants the required scopes, and names a person by a
national identifier. Tokens are never stored or logged.
"""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import aiohttp
from mss.core.errors import ConfigError, MssError, UnavailableError
from mss.core.tls import pinned_context

_MAX_ANSWER = 65_536
_RPPS = re.compile(r"^8?([0-9]{11})$")  # PSC's SubjectNameID: "8" (RPPS type) + the RPPS number


def basic_authorization(client_id: str, client_secret: str) -> str:
    """HTTP Basic client authentication, each part form-encoded first (RFC 6749, 2.3.1)."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


class TokenRefused(MssError):
    """The token is not valid for sending: expired, revoked, foreign or without an RPPS."""

    code = "mss.auth.token"


class Introspector:
    """Asks the identity provider whether an access token is valid, and for whom."""

    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: str,
        *,
        ca_file: Path | None = None,
        issuer: str = "",
        audiences: tuple[str, ...] = (),
        scopes: tuple[str, ...] = (),
        timeout: float = 5.0,
    ) -> None:
        if not url.startswith("https://"):
            raise ConfigError("the token introspection endpoint must be an https:// URL")
        self.url = url
        self.authorization = basic_authorization(client_id, client_secret)
        self.ssl = pinned_context(ca_file) if ca_file is not None else True
        self.issuer = issuer
        self.audiences = frozenset(audiences or (client_id,))
        self.scopes = scopes
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the HTTP connections."""
        if self._session is not None:
            await self._session.close()

    async def rpps(self, token: str) -> str:
        """The RPPS number of the person the token was issued to.

        TokenRefused when the token is not valid; UnavailableError when the endpoint cannot say.
        """
        answer = await self._introspect(token)
        if answer.get("active") is not True:
            raise TokenRefused("token is not active")
        expires = answer.get("exp")
        if not isinstance(expires, int | float) or expires <= time.time():
            raise TokenRefused("token has expired or has no expiry")
        if self.issuer and answer.get("iss") != self.issuer:
            raise TokenRefused(f"token issued by {answer.get('iss')!r}, not by the expected issuer")
        self._check_application(answer)
        national = answer.get("SubjectNameID")
        found = _RPPS.match(national) if isinstance(national, str) else None
        if found is None:
            raise TokenRefused("token does not name a person by an RPPS number")
        return found.group(1)

    def _check_application(self, answer: dict[str, Any]) -> None:
        """TokenRefused unless the token was issued to an application we accept, with our scopes."""
        audience = answer.get("aud")
        named: list[object] = [audience] if isinstance(audience, str) else []
        named += audience if isinstance(audience, list) else []
        named += [answer.get("azp"), answer.get("client_id")]
        parties = {party for party in named if isinstance(party, str) and party}
        if not parties & self.audiences:
            issued_to = ", ".join(sorted(parties)) or "no named application"
            raise TokenRefused(f"token issued to {issued_to}, not to an application this service accepts")
        scope = answer.get("scope")
        granted = set(scope.split()) if isinstance(scope, str) else set()
        missing = [wanted for wanted in self.scopes if wanted not in granted]
        if missing:
            raise TokenRefused(f"token does not grant the scope {missing[0]!r}")

    async def _introspect(self, token: str) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async with self._session.post(
                self.url,
                data={"token": token, "token_type_hint": "access_token"},
                ssl=self.ssl,
                allow_redirects=False,
                headers={"Accept": "application/json", "Authorization": self.authorization},
            ) as response:
                if response.status != 200:
                    raise UnavailableError(f"token introspection answered HTTP {response.status}")
                body = await response.content.read(_MAX_ANSWER + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UnavailableError(f"token introspection failed: {type(exc).__name__}") from exc
        if len(body) > _MAX_ANSWER:
            raise UnavailableError("token introspection answer is too large")
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise UnavailableError("token introspection answer is not JSON") from exc
        if not isinstance(answer, dict):
            raise UnavailableError("token introspection answer is not a JSON object")
        return answer
