"""pytest fixtures: real nats-server, real PostgreSQL and the whole backbone, on free ports.

Enable with ``pytest_plugins = ["mss.testing.fixtures"]``. An external PostgreSQL can be given with
``MSS_TEST_DATABASE_URL`` (a database the tests may migrate and write to).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
import yaml
from mss.bus.connection import client_options
from mss.core.sessions import SessionSigner
from mss.db.migrate import migrate
from mss.devstack.layout import Layout
from mss.devstack.nats import HARNESS, NatsConfig, start_nats
from mss.devstack.ports import free_port
from mss.devstack.postgres import PostgresConfig, start_postgres, stop_postgres
from mss.devstack.stack import Stack
from nats.aio.client import Client as NATS

REPO = Path(__file__).resolve().parents[5]
DEMO = REPO / "deploy" / "demo"


async def connect_as(config: NatsConfig, identity: str = HARNESS, **options: object) -> NATS:
    """A client of ``config``'s server as ``identity`` (by default the tests' observer, which may do
    everything), over TLS with its own nkey, as the components connect."""
    settings = config.client_settings(identity)
    return await nats.connect(
        settings["nats_url"],
        **client_options(identity, Path(settings["nats_credentials_file"]), Path(settings["nats_ca_file"])),
        **options,
    )


def permission_violations(config: NatsConfig) -> list[str]:
    """What the server refused to a client for lack of permission (its log's violation lines)."""
    log = config.folder / "nats.log"
    if not log.exists():
        return []
    return [line for line in log.read_text(errors="replace").splitlines() if " Violation - " in line]


@dataclass
class RunningNats:
    """A nats-server started for a test session: TLS, one nkey per component, no anonymous client."""

    config: NatsConfig
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """Client URL."""
        return self.config.url

    def settings(self, identity: str = HARNESS) -> dict[str, str]:
        """The ``nats_*`` settings of a service (or the CLI) connecting as ``identity``."""
        return self.config.client_settings(identity)

    async def connect(self, identity: str = HARNESS, **options: object) -> NATS:
        """A client connected as ``identity`` (by default the tests' observer)."""
        return await connect_as(self.config, identity, **options)

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def restart(self) -> None:
        """Start it again on the same port and store (after :meth:`stop`)."""
        self.process = start_nats(self.config)


def start_test_nats(folder: Path) -> RunningNats:
    """A nats-server with JetStream on a free port, data in ``folder``."""
    config = NatsConfig(folder, port=free_port(), sync_always=False, harness=True)
    return RunningNats(config, start_nats(config))


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[RunningNats]:
    """A fresh nats-server (JetStream, free port) for one test; stopped afterwards."""
    server = start_test_nats(tmp_path / "nats")
    try:
        yield server
    finally:
        server.stop()
    # Every component stayed within the permissions the catalogue gives it.
    assert not permission_violations(server.config), "\n".join(permission_violations(server.config))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated PostgreSQL database: external (MSS_TEST_DATABASE_URL) or embedded on a free port."""
    external = os.environ.get("MSS_TEST_DATABASE_URL")
    if external:
        asyncio.run(migrate(external))
        yield external
        return
    config = PostgresConfig(tmp_path_factory.mktemp("postgres"), port=free_port())
    start_postgres(config)
    try:
        asyncio.run(migrate(config.url()))
        yield config.url()
    finally:
        stop_postgres(config)


def demo_seed(layout: Layout, folder: Path, smarthost_tls: str = "encrypt") -> Path:
    """The demo seed with the proxy establishment's smarthost on the layout's port, reached with
    ``smarthost_tls`` ("none" for a server without STARTTLS, such as the bench's sink)."""
    seed = yaml.safe_load((DEMO / "seed.yaml").read_text(encoding="utf-8"))
    for establishment in seed["establishments"]:
        for domain in establishment.get("domains", []):
            if domain.get("mode") == "proxy":
                domain["smarthost"] = f"127.0.0.1:{layout.smarthost}"
                domain["smarthost_tls"] = smarthost_tls
    path = folder / "seed.yaml"
    path.write_text(yaml.safe_dump(seed, allow_unicode=True), encoding="utf-8")
    return path


_QUEUE_ID = re.compile(rb"\(mss\) id ([0-9A-Z]+);")


def relayed_ids(folder: Path) -> Counter[str]:
    """Queue id of each message a demo mail server kept (from egress's Received header), with counts."""
    found: Counter[str] = Counter()
    for path in folder.glob("*.eml"):
        match = _QUEUE_ID.search(path.read_bytes()[:2000])
        if match:
            found[match.group(1).decode()] += 1
    return found


def signed_session(stack: Stack, identity: str) -> str:
    """The session the backbone's directory signs when ``identity`` signs in (for the mailbox API)."""
    private, _ = stack.session_key_files()
    return SessionSigner.from_file(private, 300).sign(identity)


@contextmanager
def running_backbone(home: Path) -> Iterator[Stack]:
    """The whole backbone as real processes (what ``task up`` runs), on free ports, under ``home``."""
    layout = Layout.free(home, DEMO / "listeblanchemssante.xml")
    stack = Stack(layout, demo_seed(layout, home), harness=True)
    try:
        stack.up()
        yield stack
    finally:
        stack.down()
    assert not permission_violations(stack.nats), "\n".join(permission_violations(stack.nats))


@pytest.fixture(scope="session")
def backbone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The backbone the end-to-end tests share."""
    with running_backbone(tmp_path_factory.mktemp("mss")) as stack:
        yield stack
