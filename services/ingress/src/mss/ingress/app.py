"""The ingress service: SMTP in, durable accept on JetStream."""

from __future__ import annotations

from mss.bus import streams
from mss.bus.service import BusService
from mss.ingress.handler import IngressHandler
from mss.ingress.server import Listeners
from mss.ingress.settings import IngressSettings


def build(settings: IngressSettings) -> BusService:
    """Wire the service: it owns the work and body streams."""
    service = BusService("ingress", settings, owns=[streams.WORK, streams.BLOBS], needs=[streams.AUDIT])
    listeners = Listeners(IngressHandler(service, settings), settings)
    service.startup.append(listeners.start)
    service.stopping.append(listeners.stop)
    return service
