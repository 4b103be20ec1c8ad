"""``mss queue``: the deferred deliveries by destination, and an operator's actions on them,
through egress's queue API (``mss.v1.ops.queue``).

``list`` prints each destination's backlog (read from subject counts, no message read); ``show``
the messages waiting for one destination. ``retry``, ``hold``, ``release`` and ``cancel`` act on a
destination's messages (or one of them with ``--message``); egress audits each action with the
operator's name. Exit status 1 when there was nothing to show or act on, 2 on an error.
"""

from __future__ import annotations

import argparse
import getpass
from typing import TextIO

from mss.bus import subjects
from mss.bus.codec import decode, encode
from mss.bus.identities import OPS
from mss.cli.settings import CliSettings
from mss.cli.trust import connected
from mss.core.errors import DataError
from mss.v1 import QueueEntry, QueueReply, QueueRequest

OK, NOTHING = 0, 1


def add_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``queue`` command group to the ``mss`` parser."""
    commands = groups.add_parser("queue", help="deferred deliveries by destination").add_subparsers(
        dest="command", required=True
    )
    commands.add_parser("list", help="messages waiting per destination (scheduled, held)")
    for name, text in (
        ("show", "the messages waiting for one destination"),
        ("retry", "attempt now (releases held ones)"),
        ("hold", "put aside: no attempt until released"),
        ("release", "attempt held messages now"),
        ("cancel", "bounce now, with a delivery status notification to each sender"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("destination", help='"host:port" or "mx:<domain>", as `mss queue list` shows it')
        command.add_argument("--message", default="", help="only this queue id")
        if name == "cancel":
            command.add_argument("--reason", required=True, help="told to the senders and audited")


async def run(args: argparse.Namespace, settings: CliSettings, out: TextIO) -> int:
    """Run one ``queue`` command."""
    request = QueueRequest(
        command=args.command,
        destination=getattr(args, "destination", ""),
        message_id=getattr(args, "message", ""),
        reason=getattr(args, "reason", "") or "",
        actor=getpass.getuser(),
    )
    async with connected(settings) as client:
        reply = decode(
            QueueReply,
            (
                await client.request(
                    subjects.as_caller(subjects.QUEUE, OPS), encode(request), settings.timeout
                )
            ).data,
        )
    if reply.error:
        raise DataError(reply.error)
    for backlog in reply.backlog:
        print(f"{backlog.destination}\t{backlog.scheduled} scheduled\t{backlog.held} held", file=out)
    for entry in reply.entries:
        print(describe(entry), file=out)
    return OK if reply.backlog or reply.entries else NOTHING


def describe(entry: QueueEntry) -> str:
    """One line per waiting message."""
    request = entry.request
    due = "held" if entry.held else request.not_before.ToDatetime().strftime("%Y-%m-%dT%H:%M:%SZ")
    recipients = ",".join(r.address for r in request.recipients)
    return (
        f"{entry.message_id}\t{due}\tattempts {request.previous_attempts}\t<{request.mail_from}>"
        f"\t{recipients}\t{request.last_reply}"
    )
