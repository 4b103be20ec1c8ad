"""Loading the allowed-domain list from its configured source: fetch, verify the checksum, parse.

Every path into the service (the configured source, the KV bucket, the CLI) goes through
:func:`validate`, so no list is used without passing the size limit, the checksum when one is
known, and the parser (well-formed, ANS namespace, at least one domain).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from mss.core.errors import ConfigError, DataError
from mss.core.tls import pinned_context
from mss.policy.domain.checksum import parse_checksum, sha256_hex, verify_checksum
from mss.policy.domain.trustlist import TrustList, parse_trust_list
from mss.policy.settings import PolicySettings
from mss.policy.trust.fetch import (
    Fetched,
    Validators,
    fetch_url,
    file_path,
    is_url,
    read_file,
)

DEFAULT_MAX_BYTES = 20_000_000
CHECKSUM_MAX_BYTES = 4_096


@dataclass(frozen=True)
class Loaded:
    """A list that passed every check, with what is needed to publish and refresh it."""

    data: bytes
    trust: TrustList
    sha256: str
    validators: Validators = field(default_factory=Validators)


def validate(data: bytes, *, max_bytes: int, expected_sha256: str | None = None) -> Loaded:
    """Check size, checksum (when known) and content; raise DataError with the reason otherwise."""
    if len(data) > max_bytes:
        raise DataError(f"allowed-domain list of {len(data)} bytes is over the {max_bytes}-byte limit")
    digest = verify_checksum(data, expected_sha256) if expected_sha256 else sha256_hex(data)
    return Loaded(data=data, trust=parse_trust_list(data), sha256=digest)


async def validate_async(data: bytes, *, max_bytes: int, expected_sha256: str | None = None) -> Loaded:
    """:func:`validate` in a worker thread: a large list does not stall the requests being answered."""
    return await asyncio.to_thread(validate, data, max_bytes=max_bytes, expected_sha256=expected_sha256)


@dataclass(frozen=True)
class SourceConfig:
    """Where the list comes from: a file or an HTTPS URL, an optional checksum, the pinned CA."""

    location: str
    checksum: str = ""
    ca_file: Path | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout: float = 30.0

    @classmethod
    def from_settings(cls, settings: PolicySettings) -> SourceConfig:
        """The source configured by ``MSS_POLICY_TRUST_LIST_*`` (the URL wins over the path)."""
        config = cls(
            location=settings.trust_list_url or str(settings.trust_list_path),
            checksum=settings.trust_list_checksum_url,
            ca_file=settings.trust_list_ca_file,
            max_bytes=settings.trust_list_max_bytes,
            timeout=settings.trust_list_fetch_timeout,
        )
        config.check()
        return config

    def check(self) -> None:
        """Raise ConfigError when the configuration cannot work (plain HTTP, no pinned CA)."""
        for location in (self.location, self.checksum):
            if location and is_url(location):
                if not location.startswith("https://"):
                    raise ConfigError(f"allowed-domain list source {location}: only https:// is accepted")
                if self.ca_file is None:
                    raise ConfigError(
                        f"allowed-domain list source {location} needs MSS_POLICY_TRUST_LIST_CA_FILE "
                        "(the pinned CA bundle; the system trust store is never used)"
                    )
        if self.max_bytes <= 0:
            raise ConfigError("MSS_POLICY_TRUST_LIST_MAX_BYTES must be positive")

    def context(self) -> ssl.SSLContext:
        """The pinned TLS context (ConfigError without a CA file)."""
        if self.ca_file is None:
            raise ConfigError("an https:// list source needs MSS_POLICY_TRUST_LIST_CA_FILE")
        return pinned_context(self.ca_file)

    async def _read(self, location: str, max_bytes: int, validators: Validators | None) -> Fetched | None:
        if is_url(location):
            return await fetch_url(location, self.context(), max_bytes, self.timeout, validators)
        return Fetched(await read_file(file_path(location), max_bytes))

    async def expected_sha256(self) -> str | None:
        """The digest named by the configured checksum file or URL, if any."""
        if not self.checksum:
            return None
        fetched = await self._read(self.checksum, CHECKSUM_MAX_BYTES, None)
        assert fetched is not None  # an unconditional GET is never "not modified"
        return parse_checksum(fetched.data)

    async def load(self, validators: Validators | None = None) -> Loaded | None:
        """Fetch (conditionally for URLs), verify and parse; None when the server says 304.

        Raises DataError (malformed, wrong namespace, checksum mismatch, too large),
        UnavailableError (unreachable, TLS failure, HTTP error) or ConfigError.
        """
        fetched = await self._read(self.location, self.max_bytes, validators)
        if fetched is None:
            return None
        expected = await self.expected_sha256()
        loaded = await validate_async(fetched.data, max_bytes=self.max_bytes, expected_sha256=expected)
        return Loaded(loaded.data, loaded.trust, loaded.sha256, fetched.validators)
