"""Malware scanning at the end of DATA through clamd's INSTREAM command (ClamAV).

The message goes to clamd in chunks (4-byte big-endian length, then the bytes, then a zero
length); clamd answers ``stream: OK`` or ``stream: <signature> FOUND``. Anything else, a refused
connection or a timeout is an UnavailableError: the caller fails closed (451) or open, as set.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

from mss.core.errors import ConfigError, UnavailableError

CHUNK = 1 << 20


@dataclass(frozen=True)
class Verdict:
    """What the scanner found: nothing (``signature`` empty), or the signature's name."""

    signature: str = ""

    @property
    def infected(self) -> bool:
        """True when a signature matched."""
        return bool(self.signature)


class ClamdScanner:
    """A clamd reached over TCP (``host:port``)."""

    def __init__(self, address: str, timeout: float) -> None:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"clamd address must be host:port, not {address!r}")
        self.host, self.port, self.timeout = host, int(port), timeout

    async def scan(self, data: bytes) -> Verdict:
        """Scan ``data``; UnavailableError when clamd cannot say."""
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port)
                try:
                    writer.write(b"zINSTREAM\0")
                    for start in range(0, len(data), CHUNK):
                        chunk = data[start : start + CHUNK]
                        writer.write(struct.pack(">I", len(chunk)) + chunk)
                        await writer.drain()
                    writer.write(struct.pack(">I", 0))
                    await writer.drain()
                    answer = await reader.readuntil(b"\0")
                finally:
                    writer.close()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise UnavailableError(f"clamd at {self.host}:{self.port}: {type(exc).__name__}") from exc
        text = answer.rstrip(b"\0").decode("utf-8", "replace")
        if text == "stream: OK":
            return Verdict()
        if text.startswith("stream: ") and text.endswith(" FOUND"):
            return Verdict(text.removeprefix("stream: ").removesuffix(" FOUND"))
        raise UnavailableError(f"clamd answered {text[:200]!r}")
