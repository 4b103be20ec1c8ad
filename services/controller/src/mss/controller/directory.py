"""The directory's admin API, as the controller uses it (bearer token, JSON)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from mss.controller.plan import Call
from mss.controller.settings import ControllerSettings


class AdminError(Exception):
    """The admin API refused a request (4xx): the resource must change, retrying will not help."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Unavailable(Exception):
    """The admin API could not be reached or failed (5xx): retry later."""


class AdminApi:
    """Blocking client; the controller's loop is sequential."""

    def __init__(self, settings: ControllerSettings) -> None:
        self.url = settings.admin_url.rstrip("/")
        self.token = settings.admin_token.get_secret_value()
        self.timeout = settings.admin_timeout
        self.tls = ssl.create_default_context(
            cafile=str(settings.admin_ca_file) if settings.admin_ca_file else None
        )

    def request(self, call: Call) -> Any:
        """The decoded answer; None for 404 on a GET (absent). AdminError, Unavailable otherwise."""
        data = None if call.body is None else json.dumps(call.body).encode()
        request = urllib.request.Request(  # noqa: S310 (the configured admin URL)
            self.url + call.path,
            data=data,
            method=call.method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.tls) as answer:  # noqa: S310
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and call.method == "GET":
                return None
            detail = exc.read().decode(errors="replace")[:500]
            if exc.code >= 500:
                raise Unavailable(f"{call.method} {call.path}: {exc.code} {detail}") from exc
            raise AdminError(exc.code, f"{call.method} {call.path}: {exc.code} {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise Unavailable(f"{call.method} {call.path}: {exc}") from exc
