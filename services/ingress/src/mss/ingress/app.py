"""The ingress service: SMTP in, durable accept on JetStream."""

from __future__ import annotations

from mss.bus import streams
from mss.bus.service import BusService
from mss.ingress.handler import IngressHandler
from mss.ingress.server import Listeners
from mss.ingress.settings import IngressSettings
from mss.ingress.submission import SubmissionHandler
from mss.v1 import Listener


def build(settings: IngressSettings) -> BusService:
    """Wire the service: it owns the work and body streams."""
    service = BusService(
        "ingress", settings, owns=[streams.WORK, streams.BLOBS, streams.QUARANTINE], needs=[streams.AUDIT]
    )
    handlers = {
        Listener.LISTENER_PEER: IngressHandler(service, settings, Listener.LISTENER_PEER),
        Listener.LISTENER_SUBMISSION: SubmissionHandler(service, settings, Listener.LISTENER_SUBMISSION),
    }
    listeners = Listeners(handlers, settings)
    service.startup.append(listeners.start)
    if settings.tls_reload_interval > 0:
        service.every(settings.tls_reload_interval, listeners.reload_tls, now=False)
    service.stopping.append(listeners.stop)
    return service
