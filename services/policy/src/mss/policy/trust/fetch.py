"""Reading a list (or its checksum) from a file or an HTTPS URL, bounded in size.

HTTPS trusts the pinned CA file only (never the system store), with TLS 1.2 at least and the host
name checked; redirects are refused (configure the final URL). Refreshes are conditional GETs.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from mss.core.errors import ConfigError, DataError, UnavailableError

CHUNK = 65_536


@dataclass(frozen=True)
class Validators:
    """HTTP cache validators of the last fetched copy (empty for files)."""

    etag: str = ""
    last_modified: str = ""

    def request_headers(self) -> dict[str, str]:
        """Headers of a conditional GET."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True)
class Fetched:
    """Bytes read from a source, and the validators that came with them."""

    data: bytes
    validators: Validators = field(default_factory=Validators)


def is_url(location: str) -> bool:
    """True when ``location`` names a network resource rather than a file."""
    return "://" in location and not location.startswith("file://")


def file_path(location: str) -> Path:
    """The path named by ``location`` (a path or a ``file://`` URL)."""
    return Path(location.removeprefix("file://"))


def _read_file(path: Path, max_bytes: int) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise UnavailableError(f"cannot read {path}: {exc}") from exc
    if len(data) > max_bytes:
        raise DataError(f"{path} is larger than the {max_bytes}-byte limit")
    return data


async def read_file(path: Path, max_bytes: int) -> bytes:
    """The content of ``path``; DataError when it exceeds ``max_bytes`` (never read whole)."""
    return await asyncio.to_thread(_read_file, path, max_bytes)


async def _read_body(response: aiohttp.ClientResponse, url: str, max_bytes: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise DataError(f"{url} announces {declared} bytes, over the {max_bytes}-byte limit")
    body = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK):
        body += chunk
        if len(body) > max_bytes:
            raise DataError(f"{url} sent more than the {max_bytes}-byte limit")
    return bytes(body)


async def fetch_url(
    url: str,
    context: ssl.SSLContext,
    max_bytes: int,
    timeout: float,
    validators: Validators | None = None,
) -> Fetched | None:
    """GET ``url`` over HTTPS; None when the server answers 304 to the conditional GET.

    Raises ConfigError for a non-HTTPS URL, UnavailableError for network, TLS and HTTP failures,
    DataError when the body exceeds ``max_bytes``.
    """
    if not url.startswith("https://"):
        raise ConfigError(f"{url}: only https:// URLs are accepted")
    headers = validators.request_headers() if validators is not None else {}
    connector = aiohttp.TCPConnector(ssl=context)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    try:
        async with (
            aiohttp.ClientSession(connector=connector, timeout=client_timeout, trust_env=False) as session,
            session.get(url, headers=headers, allow_redirects=False) as response,
        ):
            if response.status == 304 and headers:
                return None
            if response.status != 200:
                raise UnavailableError(f"{url} answered HTTP {response.status} {response.reason or ''}")
            data = await _read_body(response, url, max_bytes)
            return Fetched(
                data,
                Validators(
                    etag=response.headers.get("ETag", ""),
                    last_modified=response.headers.get("Last-Modified", ""),
                ),
            )
    except (aiohttp.ClientError, TimeoutError, ssl.SSLError) as exc:
        raise UnavailableError(f"cannot fetch {url}: {exc or type(exc).__name__}") from exc
