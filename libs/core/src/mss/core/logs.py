"""Structured JSON logging without secrets or message content."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the ``extra`` fields."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """Render one record as a JSON line."""
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                data[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


class QuietTlsClose(logging.Filter):
    """Drop asyncio's warning that a stream protocol's ``eof_received`` returned True on a TLS
    connection (nats-py's does, when the server ends a TLS connection): the connection closes anyway
    and nobody has anything to do about it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for that one message."""
        return "eof_received() has no effect when using ssl" not in record.getMessage()


def quiet_tls_close() -> None:
    """Install :class:`QuietTlsClose` on asyncio's logger (once)."""
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(f, QuietTlsClose) for f in asyncio_log.filters):
        asyncio_log.addFilter(QuietTlsClose())


def setup_logging(service: str, level: str = "INFO") -> None:
    """Send JSON logs of every logger to stderr at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("faststream").setLevel(logging.WARNING)
    quiet_tls_close()
