"""``python -m mss.directory``: run the directory service until SIGTERM."""

from __future__ import annotations

import asyncio

from mss.directory.app import build
from mss.directory.settings import DirectorySettings


def main() -> None:
    """Entry point."""
    asyncio.run(build(DirectorySettings()).run())


if __name__ == "__main__":
    main()
