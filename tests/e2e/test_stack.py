"""`task up` twice in a row works, and `task down` stops everything it started."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest
from mss.devstack.layout import SERVICES, Layout
from mss.devstack.ports import is_listening
from mss.devstack.processes import pid_alive
from mss.devstack.stack import Stack
from mss.testing.fixtures import DEMO, demo_seed
from mss.testing.smtp import client_tls

pytestmark = pytest.mark.e2e


def test_up_twice_then_down(tmp_path: Path) -> None:
    layout = Layout.free(tmp_path / "mss", DEMO / "listeblanchemssante.xml")
    stack = Stack(layout, demo_seed(layout, tmp_path))
    try:
        stack.up()
        first = {name: pid_alive(stack.pid_file(name)) for name in SERVICES}
        stack.up()
        second = {name: pid_alive(stack.pid_file(name)) for name in SERVICES}
        assert all(second.values())
        assert all(first[name] != second[name] for name in SERVICES), "services are restarted"
        assert stack.pki is not None
        with smtplib.SMTP("127.0.0.1", layout.peer_smtp) as client:
            client.starttls(context=client_tls(stack.pki.peer_operator, stack.pki.ca))
            refused = client.sendmail(
                "a@autre-operateur.mssante.fr",
                ["jean.martin@chu-demo.mssante.fr"],
                b"Subject: x\r\n\r\nx\r\n",
            )
        assert refused == {}
    finally:
        stopped = stack.down()
    assert set(stopped) >= {*SERVICES, "nats", "postgres"}
    assert not any(pid_alive(stack.pid_file(name)) for name in (*SERVICES, "nats"))
    for port in (layout.peer_smtp, layout.nats, layout.postgres, *layout.http.values()):
        assert not is_listening("127.0.0.1", port), port
