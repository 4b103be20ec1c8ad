"""``python -m mss.db migrate [URL]``: apply the schema migrations."""

from __future__ import annotations

import argparse
import asyncio
import sys

from mss.core.settings import DatabaseSettings
from mss.db.migrate import migrate


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m mss.db")
    parser.add_argument("command", choices=["migrate"])
    parser.add_argument("url", nargs="?", help="PostgreSQL URL (default: MSS_DATABASE_URL)")
    args = parser.parse_args()
    url = args.url or DatabaseSettings().database_url
    applied = asyncio.run(migrate(url))
    print(f"migrations applied: {', '.join(applied) or 'none (up to date)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
