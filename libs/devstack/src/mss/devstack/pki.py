"""A local PKI shaped like IGC-Santé, for ``task up`` and the tests (keys never leave the folder).

Root ``AC RACINE IGC-SANTE TEST`` → intermediate ``AC IGC-SANTE TEST ORGANISATIONS`` → RSA leaf
certificates whose subject DN reads, in the ANS list's order, ``CN=..,OU=..,O=..,ST=..,C=FR``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_ATTRIBUTES = {
    "CN": NameOID.COMMON_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "C": NameOID.COUNTRY_NAME,
}


def parse_dn(dn: str) -> x509.Name:
    """An x509 Name from an ANS-style DN string (first attribute printed first, as RFC 4514)."""
    pairs = [part.split("=", 1) for part in dn.split(",")]
    return x509.Name(
        [x509.NameAttribute(_ATTRIBUTES[key.strip()], value.strip()) for key, value in reversed(pairs)]
    )


@dataclass(frozen=True)
class Issued:
    """A certificate and its files."""

    subject_dn: str
    cert_path: Path
    key_path: Path
    """Private key (PEM, mode 0600)."""
    chain_path: Path
    """Leaf then intermediate (PEM): what a server or client presents."""


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class LocalPki:
    """Creates (once) a root and an intermediate in ``folder`` and issues leaf certificates."""

    def __init__(self, folder: Path, name: str = "TEST") -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.now = dt.datetime.now(dt.UTC)
        root_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ASIP-SANTE"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"AC RACINE IGC-SANTE {name}"),
            ]
        )
        ca_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ASIP-SANTE"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"AC IGC-SANTE {name} ORGANISATIONS"),
            ]
        )
        self.root_key, self.ca_key = _key(), _key()
        self.root = self._ca(root_name, root_name, self.root_key, self.root_key, path_length=1)
        self.ca = self._ca(ca_name, root_name, self.ca_key, self.root_key, path_length=0)
        self.leaf_key = _key()  # shared by the leaves: RSA generation is the slow part
        self.revoked: list[x509.Certificate] = []
        self.issued: dict[str, x509.Certificate] = {}
        self.ca_bundle_path.write_bytes(_pem(self.ca) + _pem(self.root))
        self.write_crl()

    @property
    def ca_bundle_path(self) -> Path:
        """Root and intermediate (PEM): what verifiers trust."""
        return self.folder / "ca.pem"

    @property
    def crl_path(self) -> Path:
        """The intermediate's CRL (PEM)."""
        return self.folder / "crl.pem"

    def _ca(
        self,
        subject: x509.Name,
        issuer: x509.Name,
        key: rsa.RSAPrivateKey,
        signer: rsa.RSAPrivateKey,
        path_length: int,
    ) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - dt.timedelta(days=1))
            .not_valid_after(self.now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(signer, hashes.SHA256())
        )

    def issue(self, name: str, subject_dn: str, *, days: int = 825, valid_from_days: int = -1) -> Issued:
        """A leaf for TLS server and client use, written as ``<name>.pem``, ``.key``, ``-chain.pem``."""
        common_name = subject_dn.split(",", 1)[0].split("=", 1)[1]
        start = self.now + dt.timedelta(days=valid_from_days)
        cert = (
            x509.CertificateBuilder()
            .subject_name(parse_dn(subject_dn))
            .issuer_name(self.ca.subject)
            .public_key(self.leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()), critical=False
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        issued = Issued(
            subject_dn,
            self.folder / f"{name}.pem",
            self.folder / f"{name}.key",
            self.folder / f"{name}-chain.pem",
        )
        issued.cert_path.write_bytes(_pem(cert))
        issued.chain_path.write_bytes(_pem(cert) + _pem(self.ca))
        _write_key(issued.key_path, self.leaf_key)
        self.issued[name] = cert
        return issued

    def revoke(self, name: str) -> None:
        """Revoke an issued certificate and rewrite the CRL."""
        self.revoked.append(self.issued[name])
        self.write_crl()

    def write_crl(self) -> None:
        """The intermediate's CRL, valid for a week."""
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca.subject)
            .last_update(self.now - dt.timedelta(minutes=5))
            .next_update(self.now + dt.timedelta(days=7))
        )
        for cert in self.revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(self.now)
                .build()
            )
        self.crl_path.write_bytes(
            builder.sign(self.ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
        )
