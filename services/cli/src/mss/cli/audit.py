"""``mss audit verify [--tenant ID]``: have tracing recompute the audit trail's hash chains.

Exit status 0 when every chain holds, 1 when one is broken (each break is printed), 2 on an error.
"""

from __future__ import annotations

import argparse
import getpass
from typing import TextIO

from mss.bus import subjects
from mss.bus.codec import decode, encode
from mss.cli.settings import CliSettings
from mss.cli.trust import connected
from mss.v1 import AuditVerifyReply, AuditVerifyRequest

HOLDS, BROKEN = 0, 1


def add_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``audit`` command group to the ``mss`` parser."""
    commands = groups.add_parser("audit", help="the audit trail").add_subparsers(
        dest="command", required=True
    )
    verify = commands.add_parser("verify", help="recompute the hash chains: any change or removal shows")
    verify.add_argument("--tenant", default="", help="only this establishment's chain")


async def run(args: argparse.Namespace, settings: CliSettings, out: TextIO) -> int:
    """Run ``mss audit verify``; the chains may be long, so it waits ten times the usual bound."""
    request = AuditVerifyRequest(tenant_id=args.tenant, actor=getpass.getuser())
    async with connected(settings) as client:
        answer = await client.request(subjects.AUDIT_VERIFY, encode(request), settings.timeout * 10)
    reply = decode(AuditVerifyReply, answer.data)
    for chain in reply.chains:
        state = chain.problem or "holds"
        if chain.anchored_seq and not chain.problem:
            state += f", anchored up to #{chain.anchored_seq}"
        print(f"{chain.tenant_id or '(no establishment)'}\t{chain.events} events\t{state}", file=out)
    return BROKEN if any(chain.problem for chain in reply.chains) else HOLDS
