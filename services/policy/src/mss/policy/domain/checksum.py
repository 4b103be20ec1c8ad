"""SHA-256 checksums of the allowed-domain list, in the format ANS publishes (R-TRUST-4).

ANS's ``checksum`` file and the ``.sha256`` files beside a copy hold the hex digest of the XML,
possibly followed by the file name as ``sha256sum`` writes it (``<hex>  <name>`` or ``<hex> *<name>``).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from mss.core.errors import DataError

_LINE = re.compile(r"^([0-9a-fA-F]{64})(?:\s+\*?\S.*)?$")


def parse_checksum(content: str | bytes) -> str:
    """The lowercase hex SHA-256 digest held by a checksum file; DataError when it holds none."""
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError("checksum file is not text") from exc
    lines = [line.strip() for line in content.lstrip("\ufeff").splitlines() if line.strip()]
    if len(lines) != 1:
        raise DataError(f"checksum file must hold exactly one digest line, found {len(lines)}")
    match = _LINE.match(lines[0])
    if match is None:
        raise DataError("checksum file does not start with a 64-digit hex SHA-256 digest")
    return match.group(1).lower()


def sha256_hex(data: bytes) -> str:
    """The hex SHA-256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def verify_checksum(data: bytes, expected: str) -> str:
    """Return the digest of ``data``; raise DataError unless it is ``expected``."""
    actual = sha256_hex(data)
    if not hmac.compare_digest(actual, expected.lower()):
        raise DataError(f"allowed-domain list checksum mismatch: expected {expected.lower()}, got {actual}")
    return actual
