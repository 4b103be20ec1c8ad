"""``mss``: the operator's command line (settings from ``MSS_CLI_*``).

mss trust import FILE [--checksum FILE]
mss trust show DOMAIN
mss trust status
mss tenant list | show ID | create ID --name N [--finess F] | add-domain ID DOMAIN --mode saas|proxy
mss bal list TENANT | show ADDRESS | history ADDRESS | create TENANT ADDRESS --type T [...]
mss bal set ADDRESS [...]
mss bal suspend | activate | delete ADDRESS --reason R;  mss bal delegate | undelegate ORG PERSON
mss queue list | show DEST | retry DEST | hold DEST | release DEST | cancel DEST --reason R [--message ID]
mss audit verify [--tenant ID]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import nats.errors
from mss.cli import audit, queue, registry, trust
from mss.cli.settings import CliSettings
from mss.core.errors import MssError
from mss.core.logs import quiet_tls_close


def parser() -> argparse.ArgumentParser:
    """The command line grammar."""
    root = argparse.ArgumentParser(prog="mss", description="Operate an mss backbone.")
    groups = root.add_subparsers(dest="group", required=True)
    trust_parser = groups.add_parser("trust", help="the ANS allowed-domain list (liste blanche)")
    commands = trust_parser.add_subparsers(dest="command", required=True)
    imported = commands.add_parser("import", help="validate a list file and make it the list in force")
    imported.add_argument("file", type=Path, help="listeblanchemssante.xml")
    imported.add_argument("--checksum", type=Path, help="its SHA-256 (ANS `checksum` or .sha256 file)")
    shown = commands.add_parser("show", help="is DOMAIN listed? exit 0 if so, 1 if not")
    shown.add_argument("domain")
    commands.add_parser("status", help="version, date, size and source of the list in force")
    registry.add_commands(groups)
    queue.add_commands(groups)
    audit.add_commands(groups)
    return root


async def run(
    argv: Sequence[str],
    settings: CliSettings | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Run one command; return its exit status (errors are printed on ``err``)."""
    args = parser().parse_args(argv)
    settings = settings if settings is not None else CliSettings()
    try:
        if args.group in ("tenant", "bal"):
            return await registry.run(args, settings, out, err)
        if args.group == "queue":
            return await queue.run(args, settings, out)
        if args.group == "audit":
            return await audit.run(args, settings, out)
        if args.command == "import":
            return await trust.import_list(settings, args.file, args.checksum, out)
        if args.command == "show":
            return await trust.show(settings, args.domain, out)
        return await trust.status(settings, out)
    except MssError as exc:
        print(f"mss: {exc}", file=err)
        return trust.ERROR
    except (nats.errors.Error, TimeoutError) as exc:
        print(f"mss: NATS error: {exc or type(exc).__name__}", file=err)
        return trust.ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point."""
    quiet_tls_close()
    return asyncio.run(run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
