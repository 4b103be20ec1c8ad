"""A private clamd (ClamAV, Debian package clamav-daemon) for tests: loopback TCP on a free port,
a signature database built here with one test signature (the EICAR test string), never the
downloaded ClamAV databases."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from mss.devstack.ports import free_port

REQUIRE_ENV = "MSS_REQUIRE_CLAMD"
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Mss-Test-Eicar.UNOFFICIAL"


def find_clamd() -> str | None:
    """The clamd program, if installed."""
    return shutil.which("clamd") or ("/usr/sbin/clamd" if os.access("/usr/sbin/clamd", os.X_OK) else None)


def require_clamd() -> str:
    """clamd; skip the test without it, fail when MSS_REQUIRE_CLAMD=1."""
    found = find_clamd()
    if found is not None:
        return found
    problem = "clamd is not installed (Debian package clamav-daemon)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{problem}, and {REQUIRE_ENV}=1 requires it")
    pytest.skip(problem)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"zPING\0")
            return connection.recv(16).startswith(b"PONG")
    except OSError:
        return False


@contextmanager
def running_clamd(folder: Path, timeout: float = 60.0) -> Iterator[str]:
    """Start clamd on a free loopback port; yield ``127.0.0.1:port``; stop it on exit."""
    program = require_clamd()
    database = folder / "db"
    database.mkdir(parents=True, exist_ok=True)
    (database / "mss-test.ndb").write_text(f"{SIGNATURE.removesuffix('.UNOFFICIAL')}:0:*:{EICAR.hex()}\n")
    port = free_port()
    config = folder / "clamd.conf"
    config.write_text(
        "Foreground true\n"
        f"TCPSocket {port}\nTCPAddr 127.0.0.1\n"
        f"DatabaseDirectory {database}\n"
        f"LogFile {folder / 'clamd.log'}\n"
        "StreamMaxLength 30M\n"
    )
    process = subprocess.Popen(
        [program, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + timeout
        while not _answers(port):
            if process.poll() is not None:
                raise RuntimeError(f"clamd exited with {process.returncode}; see {folder / 'clamd.log'}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"clamd did not answer within {timeout} s")
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
