"""``mss queue``: the deferred deliveries by destination, and an operator's actions on them.

``list`` reads only the stream's subject counts; ``show`` reads the waiting messages of one
destination. ``retry``, ``hold``, ``release`` and ``cancel`` act on a destination's messages (or
one of them with ``--message``), and each action is audited (QUEUE_CHANGED) with who did it.
"""

from __future__ import annotations

import argparse
import getpass
from typing import TextIO

from mss.bus import queue
from mss.bus.audit import Auditor
from mss.cli.settings import CliSettings
from mss.cli.trust import connected
from mss.v1 import AuditCode
from nats.aio.client import Client as NATS

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
        command.add_argument("destination", help='"host:port", as `mss queue list` shows it')
        command.add_argument("--message", default="", help="only this queue id")
        if name == "cancel":
            command.add_argument("--reason", required=True, help="told to the senders and audited")


async def run(args: argparse.Namespace, settings: CliSettings, out: TextIO) -> int:
    """Run one ``queue`` command; 1 when there was nothing to show or act on."""
    async with connected(settings) as client:
        js = client.jetstream(timeout=settings.timeout)
        if args.command == "list":
            backlog = await queue.backlog(js)
            for destination, (scheduled, held) in backlog.items():
                print(f"{destination}\t{scheduled} scheduled\t{held} held", file=out)
            return OK if backlog else NOTHING
        found = await queue.entries(js, args.destination, args.message)
        if args.command == "release":
            found = [entry for entry in found if entry.held]
        for entry in found:
            if args.command == "retry" or args.command == "release":
                await queue.retry_now(js, entry)
            elif args.command == "hold":
                await queue.hold(js, entry)
            elif args.command == "cancel":
                await queue.cancel(js, entry, args.reason)
            print(describe(entry), file=out)
            if args.command != "show":
                await audit(client, entry, args)
        return OK if found else NOTHING


def describe(entry: queue.Entry) -> str:
    """One line per waiting message."""
    request = entry.request
    due = "held" if entry.held else request.not_before.ToDatetime().strftime("%Y-%m-%dT%H:%M:%SZ")
    recipients = ",".join(r.address for r in request.recipients)
    return (
        f"{entry.message_id}\t{due}\tattempts {request.previous_attempts}\t<{request.mail_from}>"
        f"\t{recipients}\t{request.last_reply}"
    )


async def audit(client: NATS, entry: queue.Entry, args: argparse.Namespace) -> None:
    """Record the operator's action on the message's timeline."""
    js = client.jetstream()

    async def publish(subject: str, payload: bytes, headers: dict[str, str]) -> None:
        await js.publish(subject, payload, headers=headers)

    auditor = Auditor("cli", publish)
    reason = f" ({args.reason})" if args.command == "cancel" else ""
    for recipient in entry.request.recipients:
        await auditor.emit(
            auditor.event(
                code=AuditCode.AUDIT_CODE_QUEUE_CHANGED,
                message_id=entry.message_id,
                recipient=recipient.address,
                mail_from=entry.request.mail_from,
                tenant_id=recipient.route.tenant_id,
                next_hop=entry.destination,
                reason=f"{args.command} by {getpass.getuser()}{reason}",
            )
        )
