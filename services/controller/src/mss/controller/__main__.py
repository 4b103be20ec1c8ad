"""``python -m mss.controller``: reconcile the namespace's MssTenant resources until SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading

from mss.controller.directory import AdminApi
from mss.controller.health import Health, serve
from mss.controller.kube import KubernetesTenants, run
from mss.controller.reconcile import reconcile
from mss.controller.settings import ControllerSettings
from mss.core.logs import setup_logging


def main() -> None:
    """Entry point."""
    settings = ControllerSettings()
    setup_logging("controller", settings.log_level)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    health = Health(settings.resync)
    if settings.http_port:
        serve(health, settings.http_host, settings.http_port)
    tenants = KubernetesTenants(settings.namespace)
    admin = AdminApi(settings)
    logging.getLogger(__name__).info("watching MssTenant resources", extra={"namespace": settings.namespace})
    run(
        tenants,
        lambda resource: reconcile(resource, admin, tenants.secret_exists),
        settings.resync,
        stop.is_set,
        health.beat,
    )


if __name__ == "__main__":
    main()
