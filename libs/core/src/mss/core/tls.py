"""TLS for the trust space: contexts for SMTP servers and clients, and peer certificate facts.

R-TLS-2/3: TLS 1.2 minimum and, for TLS 1.2, only the four ECDHE-RSA suites; TLS 1.3 only when
configured. Certificates are verified against the configured IGC-Santé chain only (never the system
store) and, when a CRL file is given, checked for revocation (leaf).
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from mss.core.errors import ConfigError

MSSANTE_CIPHERS = ":".join(
    [
        "ECDHE-RSA-AES256-GCM-SHA384",  # 0xC030
        "ECDHE-RSA-AES128-GCM-SHA256",  # 0xC02F
        "ECDHE-RSA-AES256-SHA384",  # 0xC028
        "ECDHE-RSA-AES128-SHA256",  # 0xC027
    ]
)
"""The TLS 1.2 suites of R-TLS-3, in OpenSSL names."""
NO_CRL = "no CRL: {whose} certificates are not checked for revocation, which MSSante requires (set {setting})"
"""What a service says, loudly, when it starts without a certificate revocation list."""

_DN_KEYS = {
    "commonName": "CN",
    "organizationalUnitName": "OU",
    "organizationName": "O",
    "stateOrProvinceName": "ST",
    "countryName": "C",
    "localityName": "L",
    "emailAddress": "emailAddress",
}


@dataclass(frozen=True)
class TlsFiles:
    """Where the PEM files of one TLS endpoint are."""

    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None
    crl: Path | None = None
    ciphers: str = MSSANTE_CIPHERS
    allow_tls13: bool = False


def _base_context(purpose: ssl.Purpose, files: TlsFiles) -> ssl.SSLContext:
    context = ssl.SSLContext(
        ssl.PROTOCOL_TLS_SERVER if purpose is ssl.Purpose.CLIENT_AUTH else ssl.PROTOCOL_TLS_CLIENT
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_3 if files.allow_tls13 else ssl.TLSVersion.TLSv1_2
    try:
        context.set_ciphers(files.ciphers)
        if files.cert is not None:
            context.load_cert_chain(files.cert, files.key)
        if files.ca is None:
            raise ConfigError("a CA bundle (the IGC-Santé chain) is required to verify peers")
        context.load_verify_locations(cafile=files.ca)
        if files.crl is not None:
            context.load_verify_locations(cafile=files.crl)
            context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot set up TLS from {files}: {exc}") from exc
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def server_context(files: TlsFiles, *, require_client_cert: bool) -> ssl.SSLContext:
    """A server context; with ``require_client_cert`` the handshake fails without a valid one."""
    if files.cert is None or files.key is None:
        raise ConfigError("a server certificate and key are required for STARTTLS")
    context = _base_context(ssl.Purpose.CLIENT_AUTH, files)
    context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return context


def client_context(files: TlsFiles) -> ssl.SSLContext:
    """A client context presenting our certificate and verifying the server's chain.

    Host names are not checked: operators are identified by the DN listed for their domain.
    """
    context = _base_context(ssl.Purpose.SERVER_AUTH, files)
    context.check_hostname = False
    return context


def pinned_context(ca_file: Path) -> ssl.SSLContext:
    """An HTTPS client context that trusts ``ca_file`` only, TLS 1.2 at least, host names checked."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_verify_locations(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the pinned CA file {ca_file}: {exc}") from exc
    return context


def https_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """An HTTPS server context (the service's HTTP endpoints), TLS 1.2 at least."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert_file), str(key_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the HTTPS certificate {cert_file} and key {key_file}: {exc}") from exc
    return context


@dataclass(frozen=True)
class PeerCertificate:
    """What the audit and the policy need of a verified peer certificate."""

    subject_dn: str
    common_name: str
    fingerprint_sha256: str
    tls_version: str
    cipher: str


def _subject_dn(subject: Any) -> tuple[str, str]:
    """(ANS-style DN "CN=..,OU=..,O=..,ST=..,C=..", CN) from ``getpeercert()['subject']``."""
    parts: list[str] = []
    common_name = ""
    for rdn in reversed(subject):
        for key, value in rdn:
            short = _DN_KEYS.get(key, key)
            parts.append(f"{short}={value}")
            if short == "CN":
                common_name = value
    return ",".join(parts), common_name


def session_evidence(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> PeerCertificate:
    """What a TLS session shows when the peer's certificate was not verified (a link encrypted
    only): the certificate's fingerprint, the version and the cipher; no subject is vouched for."""
    der = ssl_object.getpeercert(binary_form=True)
    cipher = ssl_object.cipher()
    return PeerCertificate(
        subject_dn="",
        common_name="",
        fingerprint_sha256=hashlib.sha256(der).hexdigest() if der else "",
        tls_version=ssl_object.version() or "",
        cipher=cipher[0] if cipher else "",
    )


def peer_certificate(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> PeerCertificate | None:
    """Facts of the peer's verified certificate, or None when it presented none."""
    der = ssl_object.getpeercert(binary_form=True)
    decoded = ssl_object.getpeercert()
    if not der or not decoded:
        return None
    dn, cn = _subject_dn(decoded.get("subject", ()))
    cipher = ssl_object.cipher()
    return PeerCertificate(
        subject_dn=dn,
        common_name=cn,
        fingerprint_sha256=hashlib.sha256(der).hexdigest(),
        tls_version=ssl_object.version() or "",
        cipher=cipher[0] if cipher else "",
    )


class DnMatch(Enum):
    """How a certificate is compared with the DNs the allowed-domain list gives for a domain."""

    DN = "dn"
    """The whole subject DN, attribute by attribute, in order (case of values ignored)."""
    CN = "cn"
    """Only the common name."""


def _attributes(dn: str) -> tuple[tuple[str, str], ...]:
    """("CN", "smtp-1.x") pairs of a DN string, keys upper-cased, values trimmed and case-folded."""
    pairs: list[tuple[str, str]] = []
    for part in dn.split(","):
        key, sep, value = part.partition("=")
        if sep:
            pairs.append((key.strip().upper(), " ".join(value.split()).casefold()))
        elif pairs:  # a comma inside a value, e.g. "O=A, B": belongs to the previous attribute
            key, previous = pairs.pop()
            pairs.append((key, f"{previous}, {' '.join(part.split()).casefold()}"))
    return tuple(pairs)


def dn_matches(listed_dn: str, subject_dn: str, common_name: str, match: DnMatch) -> bool:
    """True when a certificate (subject DN and CN) is the one a list entry names."""
    listed = _attributes(listed_dn)
    if match is DnMatch.CN:
        names = [value for key, value in listed if key == "CN"]
        return bool(names) and names[0] == common_name.casefold()
    return listed == _attributes(subject_dn)
