"""Slow salted password hashes (scrypt, RFC 7914) in a self-describing text form.

``$scrypt$ln=15,r=8,p=1$<salt b64>$<hash b64>``: the parameters travel with each hash, so they
can be raised later without invalidating the stored ones (:func:`needs_rehash` tells which).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import cache

from mss.core.errors import DataError

_SCHEME = "scrypt"
_SALT_BYTES = 16
_KEY_BYTES = 32


@dataclass(frozen=True)
class Cost:
    """scrypt cost: N = 2**log2_n, block size r, parallelism p (memory is 128·N·r bytes)."""

    log2_n: int = 15
    r: int = 8
    p: int = 1

    def text(self) -> str:
        """The parameter field of a hash."""
        return f"ln={self.log2_n},r={self.r},p={self.p}"

    @classmethod
    def parse(cls, text: str) -> Cost:
        """Read a parameter field; DataError when malformed or out of sane bounds."""
        try:
            fields = dict(part.split("=", 1) for part in text.split(","))
            cost = cls(int(fields["ln"]), int(fields["r"]), int(fields["p"]))
        except (KeyError, ValueError) as exc:
            raise DataError(f"malformed scrypt parameters: {text!r}") from exc
        if not (10 <= cost.log2_n <= 20 and 1 <= cost.r <= 32 and 1 <= cost.p <= 16):
            raise DataError(f"scrypt parameters out of bounds: {text!r}")
        return cost


DEFAULT_COST = Cost()


def _derive(password: bytes, salt: bytes, cost: Cost) -> bytes:
    n = 1 << cost.log2_n
    return hashlib.scrypt(
        password, salt=salt, n=n, r=cost.r, p=cost.p, maxmem=256 * n * cost.r, dklen=_KEY_BYTES
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_password(password: str, cost: Cost = DEFAULT_COST) -> str:
    """A new salted hash of ``password``."""
    if not password:
        raise DataError("a password cannot be empty")
    salt = secrets.token_bytes(_SALT_BYTES)
    return f"${_SCHEME}${cost.text()}${_b64(salt)}${_b64(_derive(password.encode(), salt, cost))}"


def _parse(stored: str) -> tuple[Cost, bytes, bytes]:
    parts = stored.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != _SCHEME:
        raise DataError("not an scrypt password hash")
    try:
        return Cost.parse(parts[2]), _unb64(parts[3]), _unb64(parts[4])
    except ValueError as exc:
        raise DataError("malformed scrypt password hash") from exc


def verify_password(stored: str, password: bytes) -> bool:
    """True when ``password`` matches ``stored`` (constant-time comparison)."""
    cost, salt, expected = _parse(stored)
    return hmac.compare_digest(_derive(password, salt, cost), expected)


def needs_rehash(stored: str, cost: Cost = DEFAULT_COST) -> bool:
    """True when ``stored`` was made with other parameters than ``cost``."""
    return _parse(stored)[0] != cost


@cache
def decoy(cost: Cost = DEFAULT_COST) -> str:
    """A hash of a random password, verified against when the login is unknown or has no password,
    so that every refusal costs the same time as a wrong password."""
    return hash_password(secrets.token_urlsafe(16), cost)
