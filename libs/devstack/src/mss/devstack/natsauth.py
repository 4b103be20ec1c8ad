"""Who may connect to the local nats-server, and over what: the components' nkeys and the server's
TLS certificate, generated once under the server's folder and kept across restarts.

Layout (``.mss/nats/`` for ``task up``)::

    credentials/<identity>.nk        the component's seed, mode 600 (what it connects with)
    credentials/<identity>.previous  the public key it had before a rotation, accepted until dropped
    tls/ca.pem                       the internal CA the components trust for NATS
    tls/server.pem, tls/server.key   the server's certificate (localhost, 127.0.0.1, ::1, nats)
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from mss.bus import identities
from mss.bus.credentials import new_seed, public_key, read_public_key, write_seed

SERVER_NAMES = ("localhost", "nats", "127.0.0.1", "::1")


@dataclass(frozen=True)
class NatsTls:
    """The server's certificate and the CA the clients check it with."""

    ca: Path
    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mss"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def internal_tls(folder: Path) -> NatsTls:
    """The server's TLS files in ``folder``: generated (internal CA, P-256) unless already there."""
    tls = NatsTls(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    if tls.ca.exists() and tls.cert.exists() and tls.key.exists():
        return tls
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("mss internal CA (NATS)"))
        .issuer_name(_name("mss internal CA (NATS)"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    names: list[x509.GeneralName] = []
    for name in SERVER_NAMES:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            names.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("nats"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    tls.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    tls.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(tls.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(_pem_key(key))
    return tls


@dataclass(frozen=True)
class Identities:
    """The components' NATS credentials in one folder."""

    folder: Path

    def seed_file(self, identity: str) -> Path:
        """The seed ``identity`` connects with."""
        return self.folder / f"{identity}.nk"

    def ensure(self, names: tuple[str, ...] = identities.ALL) -> Identities:
        """Generate the seeds that are missing."""
        for name in names:
            if not self.seed_file(name).exists():
                write_seed(self.seed_file(name), new_seed())
        return self

    def public_keys(self, identity: str) -> list[str]:
        """The keys the server accepts for ``identity``: its seed's, and the one before a rotation."""
        keys = [read_public_key(self.seed_file(identity))]
        previous = self.folder / f"{identity}.previous"
        if previous.exists():
            keys.append(previous.read_text(encoding="ascii").strip())
        return keys

    def accepted(self, names: tuple[str, ...] = identities.ALL) -> dict[str, list[str]]:
        """Every identity and the keys accepted for it."""
        return {name: self.public_keys(name) for name in names}

    def rotate(self, identity: str) -> str:
        """Give ``identity`` a new seed; its old key stays accepted until :meth:`forget_previous`.
        Returns the new public key."""
        (self.folder / f"{identity}.previous").write_text(
            read_public_key(self.seed_file(identity)), encoding="ascii"
        )
        seed = new_seed()
        write_seed(self.seed_file(identity), seed)
        return public_key(seed)

    def forget_previous(self, identity: str) -> None:
        """Stop accepting the key ``identity`` had before its last rotation."""
        (self.folder / f"{identity}.previous").unlink(missing_ok=True)
