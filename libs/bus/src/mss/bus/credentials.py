"""NATS credentials of a component: an nkey (Ed25519) seed in a file of its own, mode 600.

The server knows only the public key; the component proves it holds the seed by signing the
server's nonce at each connection. Nothing secret is in the server's configuration.
"""

from __future__ import annotations

import os
from pathlib import Path

import nkeys


def new_seed() -> bytes:
    """A fresh user nkey seed (``SU…``)."""
    return bytes(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER))


def public_key(seed: bytes) -> str:
    """The public key (``U…``) of a user seed."""
    pair = nkeys.from_seed(bytearray(seed.strip()))
    try:
        return str(pair.public_key.decode())
    finally:
        pair.wipe()


def write_seed(path: Path, seed: bytes) -> None:
    """Write ``seed`` to ``path``, readable by its owner only (replaces the file atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".new")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(seed + b"\n")
    partial.replace(path)


def read_public_key(path: Path) -> str:
    """The public key of the seed in ``path``."""
    return public_key(path.read_bytes())
