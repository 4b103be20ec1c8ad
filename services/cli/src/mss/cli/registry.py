"""``mss tenant …`` and ``mss bal …``: the directory admin API from the command line.

Each command is one HTTP request; the API's answer is printed as JSON (lists and details) or as
one line (changes). An API refusal prints its message on stderr and exits 1; no answer exits 2.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

import aiohttp
from mss.cli.settings import CliSettings
from mss.core.errors import ConfigError, UnavailableError

OK, REFUSED, ERROR = 0, 1, 2

# Options of `mss bal create` and `mss bal set`: (flag, API field, type).
FIELDS: list[tuple[str, str, type]] = [
    ("--name", "display_name", str),
    ("--rpps", "owner_rpps", str),
    ("--finess", "structure_finess", str),
    ("--service", "service", str),
    ("--description", "description", str),
    ("--owner", "operational_owner", str),
    ("--rank", "preferred_rank", int),
    ("--quota", "quota_bytes", int),
    ("--max-size", "max_message_bytes", int),
    ("--certificate-dn", "certificate_dn", str),
]


def add_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``tenant`` and ``bal`` command groups to the ``mss`` parser."""
    tenant = groups.add_parser("tenant", help="establishments of the GHT").add_subparsers(
        dest="command", required=True
    )
    tenant.add_parser("list", help="every establishment, its domains and mailbox count")
    tenant.add_parser("show", help="one establishment").add_argument("tenant")
    tenant.add_parser(
        "correspondents", help="who it exchanged with, and whether each is MSSante"
    ).add_argument("tenant")
    created = tenant.add_parser("create", help="a new establishment")
    created.add_argument("tenant")
    created.add_argument("--name", required=True)
    created.add_argument("--finess")
    rules = tenant.add_parser("set", help="change an establishment's name or rules")
    rules.add_argument("tenant")
    rules.add_argument("--name")
    rules.add_argument(
        "--mixed-recipients",
        choices=["refuse_whole", "deliver_valid"],
        help="a message for trust-space and outside recipients: refused whole, or delivered to the others",
    )
    rules.add_argument(
        "--max-size", type=int, help="largest message its people send and its mailboxes receive"
    )
    rules.add_argument(
        "--suspended-reply", choices=["permanent", "temporary"], help="mail for suspended mailboxes"
    )
    rules.add_argument(
        "--strict-national", choices=["true", "false"], help="other operators: nationally listed only"
    )
    rules.add_argument(
        "--rate-per-sender", type=int, help="messages per rate period for one sender (0: operator default)"
    )
    rules.add_argument(
        "--malformed-xdm", choices=["flag", "refuse"], help="a malformed IHE XDM archive: flagged or refused"
    )
    rules.add_argument("--audit-retention-months", type=int, help="months its audit trail is kept")
    rules.add_argument(
        "--content-retention-days", type=int, help="days its hosted messages are kept (0: until deleted)"
    )
    rules.add_argument("--legal-hold", choices=["true", "false"], help="suspend both retentions")
    rules.add_argument("--legal-hold-reason", help="why (required to place a hold)")
    domain = tenant.add_parser("add-domain", help="a domain of an establishment")
    domain.add_argument("tenant")
    domain.add_argument("domain")
    domain.add_argument("--mode", choices=["saas", "proxy"], required=True)
    domain.add_argument("--smarthost", help="proxy mode: host:port of the establishment's server")
    domain.add_argument(
        "--smarthost-tls",
        choices=["encrypt", "verify", "none"],
        default="encrypt",
        help="proxy mode: STARTTLS required (encrypt), certificate checked too (verify), or plain (none)",
    )

    bal = groups.add_parser("bal", help="mailboxes (BAL)").add_subparsers(dest="command", required=True)
    listed = bal.add_parser("list", help="the mailboxes of an establishment")
    listed.add_argument("tenant")
    listed.add_argument("--status", choices=["active", "suspended", "deleted"])
    for name in ("show", "history"):
        bal.add_parser(name, help=f"{name} of a mailbox").add_argument("address")
    new = bal.add_parser("create", help="a new mailbox (address and type are final)")
    new.add_argument("tenant")
    new.add_argument("address")
    new.add_argument("--type", choices=["PER", "ORG", "APP", "CAB"], required=True)
    new.add_argument("--red-list", action="store_true", help="never published in the national directory")
    changed = bal.add_parser("set", help="change fields of a mailbox")
    changed.add_argument("address")
    changed.add_argument("--red-list", choices=["true", "false"])
    for parser in (new, changed):
        for flag, field, kind in FIELDS:
            parser.add_argument(flag, dest=field, type=kind)
    for name in ("suspend", "activate", "delete"):
        transition = bal.add_parser(name, help=f"{name} a mailbox")
        transition.add_argument("address")
        transition.add_argument("--reason", required=True, help="recorded in the history and the audit trail")
    for name in ("delegate", "undelegate"):
        delegation = bal.add_parser(name, help=f"{name} an organisational mailbox to a person")
        delegation.add_argument("address", help="the organisational mailbox")
        delegation.add_argument("delegate", help="the personal mailbox")


def request_for(args: argparse.Namespace) -> tuple[str, str, Any]:
    """The (method, path, body) a command stands for."""
    fields = {field: getattr(args, field) for _, field, _ in FIELDS if getattr(args, field, None) is not None}
    status = {"suspend": "suspended", "activate": "active", "delete": "deleted"}
    match args.group, args.command:
        case "tenant", "list":
            return "GET", "/api/v1/tenants", None
        case "tenant", "show":
            return "GET", f"/api/v1/tenants/{args.tenant}", None
        case "tenant", "correspondents":
            return "GET", f"/api/v1/tenants/{args.tenant}/correspondents", None
        case "tenant", "create":
            return "POST", "/api/v1/tenants", {"id": args.tenant, "name": args.name, "finess": args.finess}
        case "tenant", "set":
            body = {
                "name": args.name,
                "mixed_recipients": args.mixed_recipients,
                "max_message_bytes": args.max_size,
                "suspended_reply": args.suspended_reply,
                "strict_national": None if args.strict_national is None else args.strict_national == "true",
                "rate_per_sender": args.rate_per_sender,
                "malformed_xdm": args.malformed_xdm,
                "audit_retention_months": args.audit_retention_months,
                "content_retention_days": args.content_retention_days,
                "legal_hold": None if args.legal_hold is None else args.legal_hold == "true",
                "legal_hold_reason": args.legal_hold_reason,
            }
            return "PATCH", f"/api/v1/tenants/{args.tenant}", {k: v for k, v in body.items() if v is not None}
        case "tenant", "add-domain":
            body = {
                "name": args.domain,
                "mode": args.mode,
                "smarthost": args.smarthost,
                "smarthost_tls": args.smarthost_tls,
            }
            return "POST", f"/api/v1/tenants/{args.tenant}/domains", body
        case "bal", "list":
            query = f"?status={args.status}" if args.status else ""
            return "GET", f"/api/v1/tenants/{args.tenant}/mailboxes{query}", None
        case "bal", "show":
            return "GET", f"/api/v1/mailboxes/{args.address}", None
        case "bal", "history":
            return "GET", f"/api/v1/mailboxes/{args.address}/history", None
        case "bal", "create":
            body = {"address": args.address, "type": args.type, "red_list": args.red_list, **fields}
            return "POST", f"/api/v1/tenants/{args.tenant}/mailboxes", body
        case "bal", "set":
            if args.red_list is not None:
                fields["red_list"] = args.red_list == "true"
            return "PATCH", f"/api/v1/mailboxes/{args.address}", fields
        case "bal", ("suspend" | "activate" | "delete"):
            body = {"status": status[args.command], "reason": args.reason}
            return "POST", f"/api/v1/mailboxes/{args.address}/status", body
        case "bal", ("delegate" | "undelegate"):
            method = "PUT" if args.command == "delegate" else "DELETE"
            return method, f"/api/v1/mailboxes/{args.address}/delegates/{args.delegate}", None
    raise ConfigError(f"unknown command {args.group} {args.command}")


async def run(args: argparse.Namespace, settings: CliSettings, out: TextIO, err: TextIO) -> int:
    """Send the command's request; print the answer."""
    method, path, body = request_for(args)
    token = settings.bearer()
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=settings.timeout)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.request(
                method, settings.admin_url.rstrip("/") + path, json=body, headers=headers
            ) as response,
        ):
            answer = await response.json(content_type=None)
            status = response.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise UnavailableError(f"admin API at {settings.admin_url}: {exc or type(exc).__name__}") from exc
    if status >= 400:
        print(f"mss: {answer.get('message', answer)} (HTTP {status})", file=err)
        for problem in answer.get("fields", []):
            print(f"  {problem['field']}: {problem['message']}", file=err)
        return REFUSED
    if isinstance(answer, dict) and "changed" in answer:
        print(f"{answer['changed']}: {answer['detail']}", file=out)
    else:
        print(json.dumps(answer, indent=2, ensure_ascii=False), file=out)
    return OK
