"""``python -m mss.egress``: run the egress service until SIGTERM."""

from __future__ import annotations

import asyncio

from mss.egress.app import build
from mss.egress.settings import EgressSettings


def main() -> None:
    """Entry point."""
    asyncio.run(build(EgressSettings()).run())


if __name__ == "__main__":
    main()
