"""A private mss backbone for the bench: free ports, data in the bench's temp folder.

Peer-operator mail (the bench's default recipient domain, autre-operateur.mssante.fr) is routed to
the bench's sink, so the backbone is measured as a relay exactly like the reference Postfix.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mss.devstack.layout import Layout
from mss.devstack.stack import Stack

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "deploy" / "demo"


@contextmanager
def private_backbone(work: Path, sink_port: int) -> Iterator[str]:
    """Run the six services (and nats-server, PostgreSQL) until exit; yield the SMTP "host:port"."""
    layout = Layout.free(work / "mss", DEMO / "listeblanchemssante.xml")
    layout.peer_operator = sink_port
    stack = Stack(layout, DEMO / "seed.yaml", demo_mail_servers=False)
    try:
        stack.up()
        yield f"127.0.0.1:{layout.peer_smtp}"
    finally:
        stack.down()
