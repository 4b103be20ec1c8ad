"""``python -m mss.ingress``: run the ingress service until SIGTERM."""

from __future__ import annotations

import asyncio

from mss.ingress.app import build
from mss.ingress.settings import IngressSettings


def main() -> None:
    """Entry point."""
    asyncio.run(build(IngressSettings()).run())


if __name__ == "__main__":
    main()
