"""The demo trust space of ``task up``: certificate identities matching ``deploy/demo/``.

The DNs below are those of ``deploy/demo/listeblanchemssante.xml`` (operators) and
``deploy/demo/seed.yaml`` (applicative mailboxes); a test keeps them in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mss.devstack.pki import Issued, LocalPki

OPERATOR_DN = "CN=smtp-1.ght-demo.example,OU=00000000000001,O=GHT DEMO,ST=Paris (75),C=FR"
"""Our operator certificate: the ingress server and the egress client."""
PEER_OPERATOR_DN = "CN=smtp-1.autre-operateur.example,OU=00000000000002,O=AUTRE OPERATEUR,ST=Rhône (69),C=FR"
"""The demo peer operator (autre-operateur.mssante.fr)."""
APPLICATIVE_DNS = {
    "dpi": "CN=dpi.chu-demo.example,OU=750000001,O=CHU DEMO,ST=Paris (75),C=FR",
    "sih": "CN=sih.ch-exemple.example,OU=920000001,O=CH EXEMPLE,ST=Hauts-de-Seine (92),C=FR",
}
"""Client certificates of the applicative mailboxes dpi@chu-demo and sih@ch-exemple."""
SMARTHOST_DN = "CN=exchange.ch-exemple.example,O=CH EXEMPLE,ST=Hauts-de-Seine (92),C=FR"
"""The proxy-mode establishment's own server (its STARTTLS certificate)."""


IDENTITIES = {
    "operator": OPERATOR_DN,
    "peer-operator": PEER_OPERATOR_DN,
    "smarthost": SMARTHOST_DN,
    **APPLICATIVE_DNS,
}
"""Every identity of the demo PKI, by file name (a folder holding them all is reused as it is)."""


@dataclass(frozen=True)
class DemoPki:
    """The files of the demo trust space."""

    ca: Path
    crl: Path
    operator: Issued
    peer_operator: Issued
    smarthost: Issued
    applications: dict[str, Issued]


def demo_pki(folder: Path) -> DemoPki:
    """Generate the demo PKI in ``folder`` unless it is there already."""
    ca, crl = folder / "ca.pem", folder / "crl.pem"
    names = IDENTITIES
    if not all((folder / f"{name}.key").exists() for name in names) or not ca.exists():
        pki = LocalPki(folder, "DEMO")
        for name, dn in names.items():
            pki.issue(name, dn)

    def issued(name: str) -> Issued:
        return Issued(
            names[name], folder / f"{name}.pem", folder / f"{name}.key", folder / f"{name}-chain.pem"
        )

    return DemoPki(
        ca=ca,
        crl=crl,
        operator=issued("operator"),
        peer_operator=issued("peer-operator"),
        smarthost=issued("smarthost"),
        applications={name: issued(name) for name in APPLICATIVE_DNS},
    )
