"""One measured run: drive a path with smtp-source or the asyncio driver, then wait for the sink.

Accepted rate = messages / load-generator wall time (connect .. last QUIT).
Delivered rate = messages / (time the sink's count reached baseline + messages - load start).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common import BenchError
from sink import SmtpSink

DRIVER = Path(__file__).with_name("driver.py")
TOOL_SOURCE = "smtp-source"
TOOL_DRIVER = "driver"


@dataclass(frozen=True)
class Load:
    """What to send, where, and how."""

    host: str
    port: int
    tool: str
    message_file: Path
    sessions: int
    messages: int
    sender: str
    recipient: str
    run_timeout: float
    deliver_timeout: float
    smtp_timeout: float = 60.0
    tls: tuple[Path, Path, Path] | None = None
    """STARTTLS identity (certificate chain, key, CA bundle); the driver only."""


@dataclass
class RunResult:
    path: str
    tool: str
    size: str
    wire_bytes: int
    sessions: int
    messages: int
    accept_s: float
    accepted_rate: float
    deliver_s: float | None = None
    delivered_rate: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    repeat: int = 0  # index of the repeat; in summary rows, unused
    runs: int = 1  # in summary rows: how many runs the medians cover


@dataclass
class _Timing:
    t_start: float
    t_end: float
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None


def _flags(opts: dict[str, object]) -> list[str]:
    """{"-s": 20, "-m": 5} -> ["-s", "20", "-m", "5"]"""
    return [str(item) for pair in opts.items() for item in pair]


def _tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_smtp_source(smtp_source: Path, load: Load) -> _Timing:
    """smtp-source with -d (reuse each connection); -F sends the file verbatim, LF -> CRLF."""
    opts = {"-s": load.sessions, "-m": load.messages, "-f": load.sender, "-t": load.recipient}
    opts |= {"-F": load.message_file, "-M": "bench-source.localdomain"}
    cmd = [str(smtp_source), "-d", *_flags(opts), f"inet:{load.host}:{load.port}"]
    t_start = time.monotonic()
    try:
        result = subprocess.run(
            cmd, capture_output=True, text=True, timeout=load.run_timeout, check=False, start_new_session=True
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"smtp-source did not finish within {load.run_timeout:.0f}s") from exc
    t_end = time.monotonic()
    if result.returncode != 0:
        raise BenchError(
            f"smtp-source failed (exit {result.returncode}) against "
            f"{load.host}:{load.port}: {_tail(result.stdout + result.stderr)}"
        )
    return _Timing(t_start, t_end)


def run_driver(load: Load) -> _Timing:
    """The asyncio driver in its own interpreter (no GIL sharing with the sink reader)."""
    opts = {"--host": load.host, "--port": load.port, "--message": load.message_file}
    opts |= {"--sessions": load.sessions, "--messages": load.messages, "--timeout": load.smtp_timeout}
    opts |= {"--from": load.sender, "--to": load.recipient}
    if load.tls is not None:
        opts |= {"--tls-cert": load.tls[0], "--tls-key": load.tls[1], "--tls-ca": load.tls[2]}
    cmd = [sys.executable, str(DRIVER), *_flags(opts)]
    try:
        result = subprocess.run(
            cmd, capture_output=True, text=True, timeout=load.run_timeout, check=False, start_new_session=True
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"driver did not finish within {load.run_timeout:.0f}s") from exc
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise BenchError(f"driver crashed (exit {result.returncode}): {_tail(result.stderr)}") from exc
    if result.returncode != 0:
        errors = "; ".join(sorted(set(data.get("errors", []))))
        raise BenchError(
            f"driver sent {data.get('sent')}/{load.messages} to "
            f"{load.host}:{load.port}: {errors or _tail(result.stderr)}"
        )
    latency = {key: data.get(key) for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms")}
    return _Timing(data["t_start"], data["t_end"], **latency)


def measure(
    load: Load,
    sink: SmtpSink,
    smtp_source: Path,
    path: str,
    size: str,
    wire_bytes: int,
    repeat: int = 0,
    count_delivery: bool = True,
) -> RunResult:
    """Run one load, then (if ``count_delivery``) wait until the sink has counted it all."""
    baseline = sink.count()
    if load.tool == TOOL_SOURCE:
        timing = run_smtp_source(smtp_source, load)
    elif load.tool == TOOL_DRIVER:
        timing = run_driver(load)
    else:
        raise BenchError(f"unknown tool {load.tool!r}")
    accept_s = timing.t_end - timing.t_start
    deliver_s: float | None = None
    if count_delivery:
        t_delivered = sink.wait_for_count(baseline + load.messages, load.deliver_timeout)
        deliver_s = max(t_delivered - timing.t_start, 1e-9)
    return RunResult(
        path=path,
        tool=load.tool,
        size=size,
        wire_bytes=wire_bytes,
        sessions=load.sessions,
        messages=load.messages,
        accept_s=accept_s,
        accepted_rate=load.messages / accept_s,
        deliver_s=deliver_s,
        delivered_rate=load.messages / deliver_s if deliver_s else None,
        p50_ms=timing.p50_ms,
        p90_ms=timing.p90_ms,
        p99_ms=timing.p99_ms,
        max_ms=timing.max_ms,
        repeat=repeat,
    )
