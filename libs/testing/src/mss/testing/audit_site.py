"""An audit store with two establishments of one GHT, their accounts and a few messages: the site
of the audit API, UI and isolation tests (the fixture ``audit_site`` serves it with tracing).

Establishment A (``a``) sends message ``one`` to a mailbox of B and one of its own; B also gets
``two`` from another operator. Accounts: ``admin`` (GHT administrator), ``dpo-a`` and ``dpo-b``
(auditors), ``support-a`` (support of A); every password is PASSWORD.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mss.core.ids import new_queue_id
from mss.core.passwords import Cost, hash_password
from mss.core.patients import patient_hash
from mss.v1 import AuditCode, AuditEvent, PeerCertificate, RecipientStatus

GHT = "ght-demo"
"""The installation's GHT, as the demo seed names it: an installation has one (the directory's admin
API counts on it), so the site's establishments join it and its administrator sees other tests'
establishments too."""
PASSWORD = "correct horse battery staple"  # noqa: S105 (test accounts)
PATIENT_KEY = "patient-key-for-tests"
INS = "279035121518989"
CERTIFICATE = PeerCertificate(
    subject_dn="CN=smtp.autre.example,OU=00000000000002,O=AUTRE,C=FR",
    tls_version="TLSv1.3",
    cipher="TLS_AES_256_GCM_SHA384",
)


@dataclass
class Site:
    """The running site: where it listens and what it holds."""

    url: str
    suffix: str
    ght: str
    a: str
    b: str
    domain_a: str
    domain_b: str
    one: str
    two: str
    rpps: str
    finess_b: str
    key_file: Path
    events: list[AuditEvent] = field(default_factory=list)

    @property
    def sender(self) -> str:
        """A's sender of message one (who has the RPPS)."""
        return f"praticien.essai@{self.domain_a}"

    def login(self, who: str) -> str:
        """The login of ``admin``, ``dpo-a``, ``dpo-b`` or ``support-a``."""
        return f"{who}-{self.suffix}"

    @property
    def public_pem(self) -> bytes:
        key = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
        return key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


async def seed(conn: asyncpg.Connection, suffix: str) -> dict[str, str]:
    """The GHT, two establishments, their domains, a personal mailbox with an RPPS, the accounts."""
    ght, a, b = GHT, f"a-{suffix}", f"b-{suffix}"
    domain_a, domain_b = f"{a}.mssante.fr", f"{b}.mssante.fr"
    rpps = f"8{secrets.randbelow(10**10):010d}"
    finess_b = f"{secrets.randbelow(10**9):09d}"
    await conn.execute("INSERT INTO ght (id, name) VALUES ($1, 'GHT DEMO') ON CONFLICT DO NOTHING", ght)
    await conn.execute(
        "INSERT INTO tenants (id, ght_id, name, finess) VALUES ($1, $3, 'A', NULL), ($2, $3, 'B', $4)",
        a,
        b,
        ght,
        finess_b,
    )
    await conn.execute(
        "INSERT INTO domains (name, tenant_id, mode) VALUES ($1, $2, 'saas'), ($3, $4, 'saas')",
        domain_a,
        a,
        domain_b,
        b,
    )
    await conn.execute(
        "INSERT INTO mailboxes (address, tenant_id, domain, type, owner_rpps) VALUES ($1, $2, $3, 'PER', $4)",
        f"praticien.essai@{domain_a}",
        a,
        domain_a,
        rpps,
    )
    hashed = hash_password(PASSWORD, Cost(log2_n=10))
    await conn.executemany(
        "INSERT INTO audit_accounts (login, role, ght_id, tenant_id, password_hash)"
        " VALUES ($1, $2, $3, $4, $5)",
        [
            (f"admin-{suffix}", "ght_admin", ght, None, hashed),
            (f"dpo-a-{suffix}", "auditor", ght, a, hashed),
            (f"dpo-b-{suffix}", "auditor", ght, b, hashed),
            (f"support-a-{suffix}", "support", ght, a, hashed),
        ],
    )
    return {
        "ght": ght,
        "a": a,
        "b": b,
        "domain_a": domain_a,
        "domain_b": domain_b,
        "rpps": rpps,
        "finess_b": finess_b,
    }


def _event(code: int, service: str, message_id: str, at: datetime, **fields: Any) -> AuditEvent:
    event = AuditEvent(event_id=new_queue_id(), service=service, message_id=message_id, **fields)
    event.code = code  # type: ignore[assignment]
    event.at.FromDatetime(at)
    return event


def export_key(path: Path) -> Path:
    """Write a new Ed25519 private key (PEM) to ``path``."""
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def messages(names: dict[str, str], one: str, two: str, start: datetime) -> list[AuditEvent]:
    """The events of ``one`` (A to B and A) and ``two`` (another operator to B), a second apart."""
    a, b = names["a"], names["b"]
    sender = f"praticien.essai@{names['domain_a']}"
    to_b, to_a = f"accueil@{names['domain_b']}", f"secretariat@{names['domain_a']}"
    tick = [start + timedelta(seconds=n) for n in range(12)]
    relayed = _event(
        AuditCode.AUDIT_CODE_RELAYED,
        "egress",
        one,
        tick[5],
        tenant_id=a,
        recipient=to_a,
        status=RecipientStatus.RECIPIENT_STATUS_DELIVERED,
        reply="250 2.0.0 queued",
        attempt=1,
        next_hop="10.0.0.25:25",
        mail_from=sender,
    )
    relayed.tls.CopyFrom(CERTIFICATE)
    return [
        _event(
            AuditCode.AUDIT_CODE_MESSAGE_ACCEPTED,
            "ingress",
            one,
            tick[0],
            mail_from=sender,
            reply="250 2.0.0 queued",
            trust_list_version="2026-11-01/abc",
            header_message_id=f"<{one}@a>",
        ),
        _event(
            AuditCode.AUDIT_CODE_CONTENT_INSPECTED,
            "policy",
            one,
            tick[1],
            mail_from=sender,
            reason="IHE_XDM: 1 archive(s), 1 document(s), 1 patient(s)",
            patient_hash=patient_hash(PATIENT_KEY.encode(), f"{INS}^^^&1.2.250.1.213.1.4.8&ISO"),
        ),
        _event(
            AuditCode.AUDIT_CODE_MESSAGE_ROUTED,
            "policy",
            one,
            tick[2],
            tenant_id=b,
            recipient=to_b,
            status=RecipientStatus.RECIPIENT_STATUS_QUEUED,
            mail_from=sender,
            rule="route.local",
            policy_version="2026-11-29/0000",
            directory_version="7",
        ),
        _event(
            AuditCode.AUDIT_CODE_MESSAGE_ROUTED,
            "policy",
            one,
            tick[3],
            tenant_id=a,
            recipient=to_a,
            status=RecipientStatus.RECIPIENT_STATUS_QUEUED,
            mail_from=sender,
        ),
        _event(
            AuditCode.AUDIT_CODE_STORED,
            "storage",
            one,
            tick[4],
            tenant_id=b,
            recipient=to_b,
            status=RecipientStatus.RECIPIENT_STATUS_DELIVERED,
            reason="stored in INBOX",
        ),
        relayed,
        _event(
            AuditCode.AUDIT_CODE_MESSAGE_ACCEPTED,
            "ingress",
            two,
            tick[6],
            mail_from="medecin@autre-operateur.mssante.fr",
            reply="250 2.0.0 queued",
        ),
        _event(
            AuditCode.AUDIT_CODE_MESSAGE_ROUTED,
            "policy",
            two,
            tick[7],
            tenant_id=b,
            recipient=to_b,
            status=RecipientStatus.RECIPIENT_STATUS_QUEUED,
            mail_from="medecin@autre-operateur.mssante.fr",
        ),
        _event(
            AuditCode.AUDIT_CODE_BOUNCED,
            "storage",
            two,
            tick[8],
            tenant_id=b,
            recipient=to_b,
            status=RecipientStatus.RECIPIENT_STATUS_BOUNCED,
            reply="552 5.2.2 mailbox full",
        ),
    ]
