"""Loopback ports: pick free ones, wait for listeners."""

from __future__ import annotations

import socket
import time


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def is_listening(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_listening(host: str, port: int, timeout: float, what: str, alive: object = None) -> None:
    """Poll until host:port accepts connections; fail early if ``alive()`` turns false."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not is_listening(host, port):
        if callable(alive) and not alive():
            raise RuntimeError(f"{what} exited before listening on {host}:{port}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} is not listening on {host}:{port} after {timeout:.0f} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
