"""``python -m mss.policy``: run the policy service until SIGTERM."""

from __future__ import annotations

import asyncio

from mss.policy.app import build
from mss.policy.settings import PolicySettings


def main() -> None:
    """Entry point."""
    asyncio.run(build(PolicySettings()).run())


if __name__ == "__main__":
    main()
