"""A private mss backbone for the bench: free ports, data in the bench's temp folder.

The backbone is measured as a relay into the same sink as the reference Postfix.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mss.devstack.layout import Layout
from mss.devstack.stack import Stack
from mss.testing.fixtures import demo_seed

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "deploy" / "demo"


SENDER = "contact@autre-operateur.mssante.fr"
RECIPIENT = "claire.durand@ch-exemple.mssante.fr"
"""A proxy-mode mailbox: relayed to the establishment's smarthost, here the bench's sink."""


@dataclass(frozen=True)
class Target:
    """The backbone's peer listener and the demo peer operator's TLS identity to reach it."""

    address: str
    tls: tuple[Path, Path, Path]


@contextmanager
def private_backbone(work: Path, sink_port: int) -> Iterator[Target]:
    """Run the six services (and nats-server, PostgreSQL) until exit; yield where and how to send.

    Mail comes in as the demo peer operator (STARTTLS, mutual TLS) and leaves for the proxy-mode
    establishment's smarthost, which is the bench's sink (plain SMTP, like the reference Postfix:
    the seed says so with ``smarthost_tls: none``).
    """
    layout = Layout.free(work / "mss", DEMO / "listeblanchemssante.xml")
    layout.smarthost = sink_port
    stack = Stack(layout, demo_seed(layout, work, smarthost_tls="none"), demo_mail_servers=False)
    try:
        stack.up()
        assert stack.pki is not None
        identity = stack.pki.peer_operator
        yield Target(f"127.0.0.1:{layout.peer_smtp}", (identity.chain_path, identity.key_path, stack.pki.ca))
    finally:
        stack.down()
