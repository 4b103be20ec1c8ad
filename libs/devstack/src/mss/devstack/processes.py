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


def terminate(*pid_files: Path, timeout: float = 30.0) -> list[Path]:
    """SIGTERM the recorded processes together, SIGKILL those left after ``timeout``.

    Returns the pid files whose process was running.
    """
    running = {}
    for pid_file in pid_files:
        pid = pid_alive(pid_file)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            running[pid_file] = pid
        else:
            pid_file.unlink(missing_ok=True)
    deadline = time.monotonic() + timeout
    delay = 0.02
    waiting = dict(running)
    while waiting and time.monotonic() < deadline:
        waiting = {f: pid for f, pid in waiting.items() if _alive(pid)}
        time.sleep(delay)
        delay = min(delay * 2, 0.25)
    for pid in waiting.values():
        os.kill(pid, signal.SIGKILL)
    for pid_file in running:
        pid_file.unlink(missing_ok=True)
    return list(running)


def wait_gone(pid: int, timeout: float = 30.0) -> None:
    """Return once ``pid`` has ended (reaped when it is our child); TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while _alive(pid):
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {pid} still runs")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (reaping it when it is our exited child)."""
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
