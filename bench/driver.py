"""Asyncio SMTP load driver (stdlib only) that measures per-message accept latency.

N concurrent sessions each open one connection, send EHLO once, then send messages one after
another (MAIL FROM, RCPT TO, DATA, payload, final "."; no pipelining, no RSET) until the shared
message budget is used up, then QUIT. A message's latency runs from writing MAIL FROM to
reading the 2xx reply to the final dot. Any unexpected reply or timeout fails the run.

Run as a program it prints one JSON object on stdout (the harness runs it in its own process
so that the sink-reading thread of the harness never competes with it for the GIL):

    python bench/driver.py --port 2525 --message msg.eml --sessions 20 --messages 2000

Timestamps ``t_start``/``t_end`` are ``time.monotonic()`` values, comparable across processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import ssl
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from common import percentile
from message import wire_payload


class SmtpReplyError(Exception):
    """The server answered with an unexpected reply code."""


@dataclass(frozen=True)
class DriverConfig:
    host: str
    port: int
    sessions: int
    messages: int
    sender: str
    recipient: str
    payload: bytes
    helo: str = "bench-driver.localdomain"
    timeout: float = 60.0
    tls: ssl.SSLContext | None = None
    """STARTTLS with this context (client certificate included) before sending."""


@dataclass
class DriverResult:
    sent: int
    wall_s: float
    t_start: float
    t_end: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        lat = self.latencies_ms
        out: dict[str, object] = {k: v for k, v in asdict(self).items() if k != "latencies_ms"}
        out["rate"] = self.sent / self.wall_s if self.wall_s > 0 else 0.0
        if lat:
            out.update(
                p50_ms=percentile(lat, 50),
                p90_ms=percentile(lat, 90),
                p99_ms=percentile(lat, 99),
                max_ms=max(lat),
                mean_ms=sum(lat) / len(lat),
            )
        return out


class _Budget:
    """Shared message counter; sessions take one ticket per message."""

    def __init__(self, total: int) -> None:
        self.left = total

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


async def _reply(reader: asyncio.StreamReader, timeout: float, expect: str, what: str) -> None:
    """Read one (possibly multi-line) reply; its code must start with ``expect``."""
    while True:
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line:
            raise SmtpReplyError(f"connection closed waiting for reply to {what}")
        if line[3:4] != b"-":
            break
    if not line.decode(errors="replace").startswith(expect):
        raise SmtpReplyError(f"{what}: {line.decode(errors='replace').strip()}")


async def _send_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, cfg: DriverConfig) -> float:
    t0 = time.perf_counter()
    writer.write(f"MAIL FROM:<{cfg.sender}>\r\n".encode())
    await _reply(reader, cfg.timeout, "2", "MAIL FROM")
    writer.write(f"RCPT TO:<{cfg.recipient}>\r\n".encode())
    await _reply(reader, cfg.timeout, "2", "RCPT TO")
    writer.write(b"DATA\r\n")
    await _reply(reader, cfg.timeout, "354", "DATA")
    writer.write(cfg.payload)
    await asyncio.wait_for(writer.drain(), cfg.timeout)
    await _reply(reader, cfg.timeout, "2", "end of DATA")
    return (time.perf_counter() - t0) * 1000.0


async def _session(cfg: DriverConfig, budget: _Budget, result: DriverResult) -> None:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(cfg.host, cfg.port), cfg.timeout)
    try:
        await _reply(reader, cfg.timeout, "220", "greeting")
        writer.write(f"EHLO {cfg.helo}\r\n".encode())
        await _reply(reader, cfg.timeout, "250", "EHLO")
        if cfg.tls is not None:
            writer.write(b"STARTTLS\r\n")
            await _reply(reader, cfg.timeout, "220", "STARTTLS")
            await asyncio.wait_for(writer.start_tls(cfg.tls), cfg.timeout)
            writer.write(f"EHLO {cfg.helo}\r\n".encode())
            await _reply(reader, cfg.timeout, "250", "EHLO after STARTTLS")
        while budget.take():
            result.latencies_ms.append(await _send_one(reader, writer, cfg))
            result.sent += 1
        writer.write(b"QUIT\r\n")
        await _reply(reader, cfg.timeout, "221", "QUIT")
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 5)


async def run_driver(cfg: DriverConfig) -> DriverResult:
    """Send ``cfg.messages`` messages over ``cfg.sessions`` connections and time them."""
    result = DriverResult(sent=0, wall_s=0.0, t_start=time.monotonic(), t_end=0.0)
    budget = _Budget(cfg.messages)
    tasks = [_session(cfg, budget, result) for _ in range(max(1, cfg.sessions))]
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    result.t_end = time.monotonic()
    result.wall_s = result.t_end - result.t_start
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            result.errors.append(f"{type(outcome).__name__}: {outcome}")
    return result


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="asyncio SMTP load driver (JSON on stdout)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--message", type=Path, required=True, help="LF-terminated message file (as used with smtp-source -F)"
    )
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--from", dest="sender", default="bench@chu-demo.mssante.fr")
    parser.add_argument("--to", dest="recipient", default="user@autre-operateur.mssante.fr")
    parser.add_argument("--timeout", type=float, default=60.0, help="per SMTP step, seconds")
    parser.add_argument("--latencies", action="store_true", help="include every latency sample in the JSON")
    parser.add_argument("--tls-cert", type=Path, help="STARTTLS presenting this certificate chain (PEM)")
    parser.add_argument("--tls-key", type=Path, help="its private key (PEM)")
    parser.add_argument("--tls-ca", type=Path, help="CA bundle the server certificate must chain to")
    return parser.parse_args(argv)


def _tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    if args.tls_cert is None:
        return None
    context = ssl.create_default_context(cafile=args.tls_ca)
    context.check_hostname = False  # operators are identified by certificate DN, not host name
    context.load_cert_chain(args.tls_cert, args.tls_key)
    return context


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    cfg = DriverConfig(
        host=args.host,
        port=args.port,
        sessions=args.sessions,
        messages=args.messages,
        sender=args.sender,
        recipient=args.recipient,
        payload=wire_payload(args.message),
        timeout=args.timeout,
        tls=_tls(args),
    )
    result = asyncio.run(run_driver(cfg))
    summary = result.summary()
    if args.latencies:
        summary["latencies_ms"] = result.latencies_ms
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    return 1 if result.errors or result.sent != cfg.messages else 0


if __name__ == "__main__":
    sys.exit(main())
