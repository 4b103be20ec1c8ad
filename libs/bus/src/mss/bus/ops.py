"""The operations endpoint of every service: /healthz, /readyz and Prometheus /metrics."""

from __future__ import annotations

import logging
import ssl

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)


class Readiness:
    """What /readyz reports: ready once start-up finished, and while the bus is connected."""

    def __init__(self) -> None:
        self.started = False
        self.checks: list[tuple[str, object]] = []

    def is_ready(self) -> tuple[bool, str]:
        """Return (ready, reason)."""
        if not self.started:
            return False, "starting"
        for name, check in self.checks:
            if callable(check) and not check():
                return False, f"{name} not ready"
        return True, "ready"


def ops_app(readiness: Readiness) -> web.Application:
    """An aiohttp application with the three operations routes; services may add their own."""
    app = web.Application()

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        ready, reason = readiness.is_ready()
        return web.Response(status=200 if ready else 503, text=reason + "\n")

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def start_ops(
    app: web.Application, host: str, port: int, tls: ssl.SSLContext | None = None
) -> web.AppRunner | None:
    """Serve ``app`` on host:port, over HTTPS only when ``tls`` is given (port 0 disables it); return
    the runner to clean up."""
    if port == 0:
        return None
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, ssl_context=tls).start()
    log.info("http listening", extra={"address": f"{host}:{port}", "https": tls is not None})
    return runner
