"""``python -m mss.storage``: run the storage service until SIGTERM."""

from __future__ import annotations

import asyncio

from mss.storage.app import build
from mss.storage.settings import StorageSettings


def main() -> None:
    """Entry point."""
    asyncio.run(build(StorageSettings()).run())


if __name__ == "__main__":
    main()
