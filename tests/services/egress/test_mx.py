"""MX resolution over real DNS (a loopback server): preference order, implicit MX, null MX, a
domain that does not exist, and a failing resolver."""

from __future__ import annotations

import pytest
from mss.egress.mx import Hops, MxResolver
from mss.testing.dns import Zone, dns_server

ZONE = Zone(
    mx={
        "autre-operateur.mssante.fr": [(20, "mx2.autre.example"), (10, "mx1.autre.example")],
        "refuse.mssante.fr": [(0, ".")],
    },
    a={
        "sans-mx.mssante.fr": ["127.0.0.1"],
        "mx1.autre.example": ["127.0.0.11", "127.0.0.12"],
        "mx2.autre.example": ["127.0.0.2"],
    },
    missing={"absent.mssante.fr"},
    failing={"panne.mssante.fr"},
)


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        (
            "autre-operateur.mssante.fr",
            Hops(
                [
                    ("mx1.autre.example", "127.0.0.11"),
                    ("mx1.autre.example", "127.0.0.12"),
                    ("mx2.autre.example", "127.0.0.2"),
                ]
            ),
        ),
        ("sans-mx.mssante.fr", Hops([("sans-mx.mssante.fr", "127.0.0.1")])),
        ("refuse.mssante.fr", Hops([], "556 5.1.10 Domain refuse.mssante.fr accepts no mail (null MX)")),
        ("absent.mssante.fr", Hops([], "550 5.4.4 Domain absent.mssante.fr does not exist (DNS)")),
        ("vide.mssante.fr", Hops([], "550 5.4.4 Domain vide.mssante.fr has no MX and no address (DNS)")),
        ("panne.mssante.fr", Hops([], "451 4.4.3 DNS lookup of panne.mssante.fr failed: NoNameservers")),
    ],
)
async def test_mx_hosts_by_preference_or_why_there_are_none(domain: str, expected: Hops) -> None:
    async with dns_server(ZONE) as port:
        assert await MxResolver([f"127.0.0.1:{port}"], 5).hops(domain) == expected
