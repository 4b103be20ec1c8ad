"""``mss trust``: import a list into the bucket the policy replicas watch, show a domain, status.

Exit status: 0 success (``show``: the domain is listed), 1 ``show``: not listed, 2 an error
(invalid list, unreachable NATS, empty bucket); errors are one line on stderr.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TextIO

import nats
from mss.bus.connection import client_options, without_secrets
from mss.bus.identities import OPS
from mss.cli.settings import CliSettings
from mss.core.errors import ConfigError, DataError, UnavailableError
from mss.policy.domain.checksum import parse_checksum
from mss.policy.domain.trustlist import canonical_domain
from mss.policy.trust.fetch import read_file
from mss.policy.trust.loader import CHECKSUM_MAX_BYTES, Loaded, validate_async
from mss.policy.trust.store import IMPORTED, Meta, RevisionConflict, TrustStore
from nats.aio.client import Client as NATS

LISTED, NOT_LISTED, ERROR = 0, 1, 2


@asynccontextmanager
async def connected(settings: CliSettings) -> AsyncIterator[NATS]:
    """A NATS connection that fails at once (UnavailableError) instead of retrying forever."""

    async def quiet(_: Exception) -> None:
        return None

    if not settings.nats_credentials_file.is_file():
        raise ConfigError(
            f"no NATS credentials at {settings.nats_credentials_file}: set MSS_CLI_NATS_CREDENTIALS_FILE"
            " to the operator identity's seed (`task up` writes .mss/nats/credentials/ops.nk)"
        )

    try:
        client = await asyncio.wait_for(  # nats-py keeps retrying a refused connection by itself
            nats.connect(
                settings.nats_url.split(","),
                **client_options(OPS, settings.nats_credentials_file, settings.nats_ca_file),
                connect_timeout=settings.timeout,
                allow_reconnect=False,
                max_reconnect_attempts=0,
                error_cb=quiet,
            ),
            settings.timeout,
        )
    except Exception as exc:  # nats-py raises several unrelated types for "no server"
        raise UnavailableError(
            f"cannot reach NATS at {without_secrets(settings.nats_url)}: {str(exc) or type(exc).__name__}"
        ) from exc
    try:
        yield client
    finally:
        await client.close()


async def read_list(path: Path, checksum: Path | None, max_bytes: int) -> Loaded:
    """Read and validate a list file (and its checksum file) locally."""
    expected = parse_checksum(await read_file(checksum, CHECKSUM_MAX_BYTES)) if checksum else None
    return await validate_async(
        await read_file(path, max_bytes), max_bytes=max_bytes, expected_sha256=expected
    )


async def import_list(settings: CliSettings, path: Path, checksum: Path | None, out: TextIO) -> int:
    """Validate ``path`` and make it the list in force; print its version and size."""
    loaded = await read_list(path, checksum, settings.trust_list_max_bytes)
    for warning in loaded.trust.warnings:
        print(f"repaired: {warning}", file=out)
    async with connected(settings) as client:
        store = TrustStore(client, timeout=settings.timeout)
        await store.open(create=False)  # only policy, its owner, creates the bucket
        for _ in range(3):
            previous = await store.current()
            if (
                previous is not None
                and Meta.from_headers(previous.headers, 0).version == loaded.trust.version
            ):
                print(f"already in force: {loaded.trust.version} (revision {previous.revision})", file=out)
                return 0
            try:
                meta = await store.publish(loaded, f"{IMPORTED}{path.resolve()}", previous=previous)
            except RevisionConflict:
                continue
            print(
                f"imported {meta.version}: {meta.domains} domains, generated {meta.generated_at or '?'}"
                f" (revision {meta.revision}, previous {meta.previous_version or 'none'})",
                file=out,
            )
            return 0
    raise UnavailableError("the list kept changing concurrently; try again")


async def current(settings: CliSettings) -> tuple[Loaded, Meta, str]:
    """The list in force, validated, with its metadata and the source check summary."""
    async with connected(settings) as client:
        store = TrustStore(client, timeout=settings.timeout)
        await store.open(create=False)
        stored = await store.current()
        if stored is None:
            raise DataError("the bucket holds no allowed-domain list yet")
        loaded, meta = await stored.validate(settings.trust_list_max_bytes)
        state = await store.source_state()
    summary = (
        f"{state.location} (sha256 {state.sha256[:16]}, checked {state.checked_at})" if state else "never"
    )
    return loaded, meta, summary


async def show(settings: CliSettings, domain: str, out: TextIO) -> int:
    """Print whether ``domain`` is listed and its operator certificate DNs."""
    loaded, meta, _ = await current(settings)
    name = canonical_domain(domain)
    dns = loaded.trust.domains.get(name)
    if dns is None:
        print(f"{name}: not listed", file=out)
    else:
        print(f"{name}: listed", file=out)
        for dn in dns or ("(no operator certificate DN)",):
            print(f"  operator certificate: {dn}", file=out)
    print(f"list version: {meta.version}", file=out)
    return LISTED if dns is not None else NOT_LISTED


async def status(settings: CliSettings, out: TextIO) -> int:
    """Print the version, date, size, source and load time of the list in force."""
    loaded, meta, checked = await current(settings)
    rows = [
        ("version", meta.version),
        ("generated at", loaded.trust.generated_at or "undated"),
        ("domains", str(len(loaded.trust.domains))),
        ("source", meta.source or "unknown"),
        ("loaded at", meta.loaded_at or "unknown"),
        ("revision", str(meta.revision)),
        ("sha256", loaded.sha256),
        ("source checked", checked),
    ]
    for label, value in rows:
        print(f"{label + ':':<16}{value}", file=out)
    return 0
