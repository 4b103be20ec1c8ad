"""/healthz, /readyz and /metrics of the controller: ready once it has listed the MssTenant
resources, alive while its loop beats (each list, at least once per resync period, and each
resource handled)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


class Health:
    """The loop's heartbeat, read by the HTTP endpoint."""

    def __init__(self, resync: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.grace = 2 * resync + 60
        self.clock = clock
        self.last: float | None = None

    def beat(self) -> None:
        """The loop listed the resources, or handled one."""
        self.last = self.clock()

    def ready(self) -> bool:
        """It has beaten at least once (its first list)."""
        return self.last is not None

    def alive(self) -> bool:
        """Not started yet, or it beat within two resync periods and a minute."""
        return self.last is None or self.clock() - self.last < self.grace


def serve(health: Health, host: str, port: int) -> ThreadingHTTPServer:
    """Answer /healthz and /readyz on host:port from a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            checks = {"/healthz": health.alive, "/readyz": health.ready}
            check = checks.get(self.path)
            kind = "text/plain"
            if self.path == "/metrics":
                status, body, kind = 200, generate_latest(), CONTENT_TYPE_LATEST
            elif check is None:
                status, body = 404, b"not found\n"
            else:
                status, body = (200, b"ok\n") if check() else (503, b"not ready\n")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="health").start()
    return server
