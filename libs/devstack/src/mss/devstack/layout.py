"""Where every part of a local backbone listens, and the environment each service gets.

One definition serves ``task up`` (the documented defaults) and the end-to-end tests (free ports).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mss.devstack.demo import DemoPki
from mss.devstack.nats import NatsConfig
from mss.devstack.ports import free_port

SERVICES = ("tracing", "directory", "policy", "storage", "egress", "ingress")
"""The six services; each creates the streams it owns and waits for the others'."""


@dataclass
class Layout:
    """Ports and folders of one local backbone."""

    home: Path
    nats: int = 4222
    postgres: int = 5432
    peer_smtp: int = 2525
    submission: int = 5587
    http: dict[str, int] = field(
        default_factory=lambda: {
            "tracing": 8080,
            "directory": 8081,
            "ingress": 9101,
            "policy": 9102,
            "storage": 9103,
            "egress": 9104,
        }
    )
    smarthost: int = 2626
    peer_operator: int = 2727
    trust_list: Path = Path("deploy/demo/listeblanchemssante.xml")
    peer_domain: str = "autre-operateur.mssante.fr"

    @classmethod
    def free(cls, home: Path, trust_list: Path) -> Layout:
        """A layout on free loopback ports (tests)."""
        return cls(
            home=home,
            nats=free_port(),
            postgres=free_port(),
            peer_smtp=free_port(),
            submission=free_port(),
            http={name: free_port() for name in SERVICES},
            smarthost=free_port(),
            peer_operator=free_port(),
            trust_list=trust_list,
        )

    def environment(self, database_url: str, pki: DemoPki, nats: NatsConfig) -> dict[str, str]:
        """The ``MSS_<SERVICE>_*`` variables of every service."""
        env: dict[str, str] = {}
        for name in SERVICES:
            prefix = f"MSS_{name.upper()}_"
            for key, value in nats.client_settings(name).items():
                env[prefix + key.upper()] = value
            env[prefix + "HTTP_PORT"] = str(self.http[name])
            if name in ("directory", "storage", "tracing"):
                env[prefix + "DATABASE_URL"] = database_url
        env["MSS_INGRESS_PEER_PORT"] = str(self.peer_smtp)
        env["MSS_INGRESS_SUBMISSION_PORT"] = str(self.submission)
        env["MSS_POLICY_TRUST_LIST_PATH"] = str(self.trust_list.resolve())
        env["MSS_EGRESS_PEER_ROUTES"] = json.dumps({self.peer_domain: f"127.0.0.1:{self.peer_operator}"})
        for service in ("INGRESS", "EGRESS"):  # one operator certificate: server and client
            env[f"MSS_{service}_TLS_CERT_FILE"] = str(pki.operator.chain_path)
            env[f"MSS_{service}_TLS_KEY_FILE"] = str(pki.operator.key_path)
            env[f"MSS_{service}_TLS_CA_FILE"] = str(pki.ca)
            env[f"MSS_{service}_TLS_CRL_FILE"] = str(pki.crl)
        return env
