"""Small helpers shared by the benchmark modules: errors, ports, polling, percentiles."""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Sequence


class BenchError(RuntimeError):
    """A benchmark step failed; the message is meant for the person running the bench."""


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for a currently unused TCP port on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connection to host:port succeeds right now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float, what: str) -> None:
    """Poll host:port until it accepts a connection; raise BenchError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_accepts(host, port):
            return
        time.sleep(0.02)  # polling interval, not a readiness delay
    raise BenchError(f"{what} did not accept connections on {host}:{port} within {timeout:.0f}s")


def parse_hostport(text: str) -> tuple[str, int]:
    """Parse ``HOST:PORT`` (``[v6]:PORT`` accepted) into a tuple."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise BenchError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]
