"""Download the extraction over HTTPS, streaming to a file (R-DIR-3).

The ANS serves a zip named in ``Content-Disposition`` (``Extraction_Correspondance_MSSante_
AAAAMMJJhhmm.zip``). Its server certificate chains to IGC-Santé, which public trust stores lack:
give the IGC-Santé root as ``ca_file``. The body is written as it arrives, up to ``max_bytes``, to a
partial file renamed when complete: a failed download leaves nothing behind.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiohttp
from mss.core.errors import ConfigError, DataError, UnavailableError
from mss.core.tls import pinned_context

CHUNK = 1 << 20
_FILENAME = re.compile(r"""filename\*?=(?:UTF-8'')?["']?([^"';]+)""", re.IGNORECASE)
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class Downloaded:
    """A downloaded extraction."""

    path: Path
    name: str
    """The name it was published under (dates the version)."""
    size: int


def published_name(disposition: str | None, url: str) -> str:
    """The file name from ``Content-Disposition``, else the URL's last segment; made safe for a path."""
    match = _FILENAME.search(disposition or "")
    name = unquote(match.group(1)) if match else unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    name = _SAFE.sub("_", name.rsplit("/", 1)[-1]).lstrip(".")
    return name or "extraction"


async def download(
    url: str,
    folder: Path,
    *,
    ca_file: Path | None = None,
    timeout: float = 300.0,
    max_bytes: int = 1 << 30,
) -> Downloaded:
    """Fetch ``url`` (https only) into ``folder``.

    Raises:
        ConfigError: not an https URL, or an unreadable CA file (which is then the only one trusted).
        UnavailableError: the server could not be reached or did not answer 200.
        DataError: the body is larger than ``max_bytes``.
    """
    if urlsplit(url).scheme != "https":
        raise ConfigError(f"the extraction URL must be https: {url}")
    context: ssl.SSLContext | bool = pinned_context(ca_file) if ca_file is not None else True
    limits = aiohttp.ClientTimeout(total=timeout)
    try:
        async with (
            aiohttp.ClientSession(timeout=limits) as session,
            session.get(url, ssl=context) as response,
        ):
            if response.status != 200:
                raise UnavailableError(f"{url} answered {response.status} {response.reason}")
            name = published_name(response.headers.get("Content-Disposition"), url)
            path, partial = folder / name, folder / f".{name}.part"
            size = 0
            try:
                with partial.open("wb") as file:
                    async for chunk in response.content.iter_chunked(CHUNK):
                        size += len(chunk)
                        if size > max_bytes:
                            raise DataError(f"{url} is larger than {max_bytes} bytes: refused")
                        file.write(chunk)
                partial.replace(path)
            finally:
                partial.unlink(missing_ok=True)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise UnavailableError(f"cannot download {url}: {exc or type(exc).__name__}") from None
    return Downloaded(path, name, size)
