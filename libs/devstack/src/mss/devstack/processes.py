"""Detached processes with pid files: start, find alive, stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def pid_alive(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file`` when that process still runs."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def spawn(args: list[str], *, log: Path, pid_file: Path, env: dict[str, str] | None = None) -> int:
    """Start ``args`` detached (own session), output to ``log``; record its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    pid_file.write_text(str(process.pid))
    return process.pid


def python_module(module: str, *args: str) -> list[str]:
    """Command line running ``python -m module`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def terminate(pid_file: Path, timeout: float = 30.0) -> bool:
    """SIGTERM the recorded process, SIGKILL it after ``timeout``; True if one was running."""
    pid = pid_alive(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    delay = 0.02
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            finished = 0
        try:
            os.kill(pid, 0)
        except OSError:
            break
        if finished:
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    else:
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True
