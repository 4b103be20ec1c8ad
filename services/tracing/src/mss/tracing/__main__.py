"""``python -m mss.tracing``: run the tracing service until SIGTERM."""

from __future__ import annotations

import asyncio

from mss.tracing.app import build
from mss.tracing.settings import TracingSettings


def main() -> None:
    """Entry point."""
    asyncio.run(build(TracingSettings()).run())


if __name__ == "__main__":
    main()
