"""Proof of a person's sign-in: a short-lived statement the directory signs when someone signs in,
which the services that act for that person (storage's mailbox API) check before they answer.

A session is ``v1.<payload>.<signature>``, both base64url without padding: the payload is JSON
(``sub`` the identity as the directory names it, a mailbox address or ``RPPS n``; ``iat`` and
``exp`` in Unix seconds; ``aud`` the service it is for), the signature Ed25519 over the first two
parts. Only the directory holds the private key; the checking services hold the public key.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from mss.core.errors import ConfigError

VERSION = "v1"
STORAGE = "mss-storage"
"""The audience of the sessions storage accepts."""


class SessionRefused(Exception):
    """The session is missing, malformed, forged, expired or meant for another service."""


@dataclass(frozen=True)
class Session:
    """Who signed in, until when."""

    identity: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _load(path: Path, private: bool) -> Ed25519PrivateKey | Ed25519PublicKey:
    try:
        data = path.read_bytes()
        key = (
            serialization.load_pem_private_key(data, password=None)
            if private
            else serialization.load_pem_public_key(data)
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the session key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey | Ed25519PublicKey):
        raise ConfigError(f"the session key {path} is not an Ed25519 key")
    return key


class SessionSigner:
    """The directory's side: signs a session at each successful sign-in."""

    def __init__(self, key: Ed25519PrivateKey, lifetime: float) -> None:
        self.key = key
        self.lifetime = int(lifetime)

    @classmethod
    def from_file(cls, path: Path, lifetime: float) -> SessionSigner:
        """The signer of an Ed25519 private key (PEM, PKCS#8)."""
        key = _load(path, private=True)
        assert isinstance(key, Ed25519PrivateKey)
        return cls(key, lifetime)

    def sign(self, identity: str, audience: str = STORAGE, now: float | None = None) -> str:
        """A session for ``identity``, valid from ``now`` for the signer's lifetime."""
        issued = int(time.time() if now is None else now)
        payload = {"sub": identity, "iat": issued, "exp": issued + self.lifetime, "aud": audience}
        signed = f"{VERSION}.{_b64(json.dumps(payload, separators=(',', ':')).encode())}"
        return f"{signed}.{_b64(self.key.sign(signed.encode('ascii')))}"


class SessionVerifier:
    """A checking service's side: the identity a session proves, or SessionRefused."""

    def __init__(self, key: Ed25519PublicKey, audience: str = STORAGE) -> None:
        self.key = key
        self.audience = audience

    @classmethod
    def from_file(cls, path: Path, audience: str = STORAGE) -> SessionVerifier:
        """The verifier of an Ed25519 public key (PEM, SubjectPublicKeyInfo)."""
        key = _load(path, private=False)
        assert isinstance(key, Ed25519PublicKey)
        return cls(key, audience)

    def verify(self, session: str, now: float | None = None) -> Session:
        """The session's identity, once its signature, audience and expiry are checked."""
        version, _, rest = session.partition(".")
        payload_part, _, signature_part = rest.partition(".")
        if version != VERSION or not payload_part or not signature_part:
            raise SessionRefused("no session, or not one the directory signed")
        try:
            self.key.verify(_unb64(signature_part), f"{version}.{payload_part}".encode("ascii"))
            payload = json.loads(_unb64(payload_part))
        except (InvalidSignature, binascii.Error, ValueError, UnicodeError) as exc:
            raise SessionRefused("the session's signature does not hold") from exc
        if not isinstance(payload, dict) or payload.get("aud") != self.audience:
            raise SessionRefused("the session is meant for another service")
        identity, expires = payload.get("sub"), payload.get("exp")
        if not isinstance(identity, str) or not identity or not isinstance(expires, int):
            raise SessionRefused("the session names no identity")
        if expires <= (time.time() if now is None else now):
            raise SessionRefused("the session has expired: sign in again")
        return Session(identity, expires)


def new_key_files(private: Path, public: Path) -> None:
    """Write a new Ed25519 key pair (the private key readable by its owner only)."""
    key = Ed25519PrivateKey.generate()
    private.parent.mkdir(parents=True, exist_ok=True)
    private.touch(mode=0o600)
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
