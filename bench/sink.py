"""The delivery sink: Postfix's C ``smtp-sink`` with its ``-c`` counters parsed live.

Why smtp-sink and how counting works
------------------------------------
smtp-sink is a single-process, event-driven C server that discards mail: the sink Postfix's
own performance tests use, far cheaper than any Python sink. It parses DATA line by line, so it
costs about 5 ms of CPU per MB here: at 1 MB it caps the ``sink`` path near 100-200 msg/s and
takes a share of the 2 cores from the relay under test (equally for Postfix and the target,
so ratios stay fair). With ``-c`` it
writes a counter record ``sess=N quit=N mesg=N`` followed by a bare CR to stdout every time a
session ends, QUIT is received, or the final "." of DATA is received, and it flushes each record
at once (checked on 3.7). ``mesg`` is therefore an exact, monotonic count of completed DATA
transactions. A reader thread reads the pipe, parses the records and stores
``(time.monotonic(), mesg)`` for every change; the time a run is "delivered" is the first
record whose count reaches the run's baseline plus its message count. The cost on the sink side
is one ~30-byte write per message; ``-d``/``-D`` dumps (one file write per message) would be
far slower. CLOCK_MONOTONIC is system-wide on Linux, so these timestamps compare directly with
the ones the driver subprocess reports.
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import os
import re
import subprocess
import threading
import time
from pathlib import Path

from common import BenchError, wait_for_port

_RECORD = re.compile(rb"mesg=(\d+)")
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class SmtpSink:
    """Runs ``smtp-sink -c`` on host:port and tracks how many messages it has received."""

    def __init__(self, binary: Path, host: str, port: int, max_connections: int, log_path: Path) -> None:
        self.host = host
        self.port = port
        self._binary = binary
        self._max_connections = max_connections
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._cond = threading.Condition()
        self._times: list[float] = []
        self._counts: list[int] = []
        self._log_path = log_path

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> None:
        cmd = [str(self._binary), "-c", "-m", str(self._max_connections)]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]  # smtp-sink refuses to run as root without -u
        cmd += [f"inet:{self.host}:{self.port}", "1024"]
        with self._log_path.open("ab") as log:  # stderr to a file: a pipe could fill up
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,  # Ctrl-C reaches only the harness, which cleans up
            )
        assert self._proc.stdout is not None
        with contextlib.suppress(OSError):  # bigger pipe: a descheduled reader never blocks the sink
            fcntl.fcntl(self._proc.stdout.fileno(), _F_SETPIPE_SZ, 1 << 20)
        self._reader = threading.Thread(target=self._read_loop, name="smtp-sink-reader", daemon=True)
        self._reader.start()
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                wait_for_port(self.host, self.port, 0.2, "smtp-sink")
                return
            except BenchError:
                continue
        raise BenchError(f"smtp-sink did not listen on {self.host}:{self.port} in {timeout}s")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=5)

    def _check_alive(self) -> None:
        if self._proc is None:
            raise BenchError("smtp-sink is not running")
        code = self._proc.poll()
        if code is not None:
            tail = self._log_path.read_text(errors="replace").strip().splitlines()[-5:]
            raise BenchError(f"smtp-sink exited with status {code}: " + " | ".join(tail))

    # -- counting --------------------------------------------------------------------------
    def _read_loop(self) -> None:
        assert self._proc is not None
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        pending = b""
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            now = time.monotonic()
            *records, pending = (pending + chunk).split(b"\r")
            counts = [int(m.group(1)) for r in records if (m := _RECORD.search(r))]
            if counts:
                self._record(now, counts[-1])

    def _record(self, now: float, count: int) -> None:
        with self._cond:
            if not self._counts or count > self._counts[-1]:
                self._times.append(now)
                self._counts.append(count)
                self._cond.notify_all()

    def count(self) -> int:
        """Messages received so far."""
        with self._cond:
            return self._counts[-1] if self._counts else 0

    def wait_for_count(self, target: int, timeout: float) -> float:
        """Block until ``target`` messages were received; return the monotonic time it happened.

        Raises BenchError on timeout or if the sink dies.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._counts or self._counts[-1] < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = self._counts[-1] if self._counts else 0
                    raise BenchError(f"sink received {got} of {target} messages within {timeout:.0f}s")
                self._cond.wait(min(remaining, 0.5))
                if self._proc is None or self._proc.poll() is not None:
                    self._check_alive()
            index = bisect.bisect_left(self._counts, target)
            return self._times[index]
