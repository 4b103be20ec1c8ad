"""Provision a GHT from a readable YAML seed file (idempotent: re-running it changes nothing).

Format (see ``deploy/demo/seed.yaml``)::

    ght: {id: ght-demo, name: ...}
    establishments:
      - id: chu-demo
        name: ...
        finess: "750000001"
        domains: [{name: chu-demo.mssante.fr, mode: saas}]
        mailboxes:
          - {address: jean.martin@chu-demo.mssante.fr, type: PER}
          - {address: cardiologie@chu-demo.mssante.fr, type: ORG, delegates: [jean.martin@...]}
          - {address: dpi@chu-demo.mssante.fr, type: APP, certificate_dn: "CN=dpi.chu-demo.example,..."}

``rpps`` is the national identifier of a personal mailbox's owner (the person a Pro Sante Connect
token names); ``delegates`` are the personal mailboxes that may send as an organisational one.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path
from typing import Any

import asyncpg
import yaml
from mss.core.errors import DataError
from mss.directory.settings import DirectorySettings

_FINESS = re.compile(r"^[0-9A-B]{9}$")
_RPPS = re.compile(r"^[0-9]{11}$")
_TYPES = {"PER", "ORG", "APP", "CAB"}
_MODES = {"saas", "proxy"}
_SMARTHOST_TLS = {"encrypt", "verify", "none"}


def load_seed(path: Path) -> dict[str, Any]:
    """Read and validate a seed file; raise DataError with the precise problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"{path}: cannot read seed: {exc}") from exc
    if not isinstance(data, dict) or "ght" not in data or "establishments" not in data:
        raise DataError(f"{path}: a seed needs 'ght' and 'establishments'")
    personal = {
        str(box["address"]).lower()
        for est in data["establishments"]
        for box in est.get("mailboxes", [])
        if box.get("type") == "PER"
    }
    for est in data["establishments"]:
        where = f"{path}: establishment {est.get('id')!r}"
        if est.get("finess") is not None and not _FINESS.match(str(est["finess"])):
            raise DataError(f"{where}: FINESS must be 9 characters [0-9A-B]")
        domains = {}
        for dom in est.get("domains", []):
            name = str(dom["name"]).lower()
            if dom.get("mode") not in _MODES:
                raise DataError(f"{where}: domain {name}: mode must be saas or proxy")
            if dom["mode"] == "proxy" and not dom.get("smarthost"):
                raise DataError(f"{where}: domain {name}: proxy mode needs a smarthost")
            if dom.get("smarthost_tls", "encrypt") not in _SMARTHOST_TLS:
                raise DataError(f"{where}: domain {name}: smarthost_tls must be encrypt, verify or none")
            domains[name] = dom
        for box in est.get("mailboxes", []):
            address = str(box["address"]).lower()
            if address.rpartition("@")[2] not in domains:
                raise DataError(f"{where}: mailbox {address} is outside the establishment's domains")
            if box.get("type") not in _TYPES:
                raise DataError(f"{where}: mailbox {address}: type must be one of {sorted(_TYPES)}")
            if box.get("certificate_dn") and box["type"] != "APP":
                raise DataError(
                    f"{where}: mailbox {address}: only applicative mailboxes have a certificate_dn"
                )
            if box.get("rpps") is not None and (box["type"] != "PER" or not _RPPS.match(str(box["rpps"]))):
                raise DataError(f"{where}: mailbox {address}: rpps is 11 digits, on personal mailboxes only")
            delegates = [str(d).lower() for d in box.get("delegates", [])]
            if delegates and box["type"] not in ("ORG", "CAB"):
                raise DataError(f"{where}: mailbox {address}: only organisational mailboxes have delegates")
            for delegate in delegates:
                if delegate not in personal:
                    raise DataError(
                        f"{where}: mailbox {address}: delegate {delegate} is not a personal mailbox"
                    )
    return data


async def apply_seed(conn: asyncpg.Connection, data: dict[str, Any], source: str = "") -> None:
    """Upsert the seed in one transaction and bump the directory version; new mailboxes get a
    'created' history entry naming the seed ``source``."""
    ght = data["ght"]
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO ght (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = $2",
            ght["id"],
            ght["name"],
        )
        for est in data["establishments"]:
            await conn.execute(
                "INSERT INTO tenants (id, ght_id, name, finess) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (id) DO UPDATE SET name = $3, finess = $4",
                est["id"],
                ght["id"],
                est["name"],
                est.get("finess"),
            )
            for dom in est.get("domains", []):
                await conn.execute(
                    "INSERT INTO domains (name, tenant_id, mode, smarthost, smarthost_tls)"
                    " VALUES ($1, $2, $3, $4, $5)"
                    " ON CONFLICT (name) DO UPDATE SET mode = $3, smarthost = $4, smarthost_tls = $5",
                    dom["name"].lower(),
                    est["id"],
                    dom["mode"],
                    dom.get("smarthost"),
                    dom.get("smarthost_tls", "encrypt"),
                )
            for box in est.get("mailboxes", []):
                address = box["address"].lower()
                created = await conn.fetchval(
                    "INSERT INTO mailboxes"
                    " (address, tenant_id, domain, type, display_name, certificate_dn, owner_rpps)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    " ON CONFLICT (address) DO UPDATE"
                    # setting the type lets the registry's guard refuse a changed one
                    " SET type = $4, display_name = $5, certificate_dn = $6, owner_rpps = $7"
                    " RETURNING xmax = 0",  # true when inserted, not updated
                    address,
                    est["id"],
                    address.rpartition("@")[2],
                    box["type"],
                    box.get("name"),
                    box.get("certificate_dn"),
                    str(box["rpps"]) if box.get("rpps") is not None else None,
                )
                if created:
                    await conn.execute(
                        "INSERT INTO mailbox_events (address, action, to_status, actor, detail)"
                        " VALUES ($1, 'created', 'active', $2, $3)",
                        address,
                        f"seed {source}".strip(),
                        box["type"],
                    )
        for est in data["establishments"]:  # delegates may belong to another establishment of the GHT
            for box in est.get("mailboxes", []):
                address = box["address"].lower()
                await conn.execute("DELETE FROM delegations WHERE mailbox = $1", address)
                for delegate in box.get("delegates", []):
                    await conn.execute(
                        "INSERT INTO delegations (mailbox, delegate) VALUES ($1, $2)",
                        address,
                        delegate.lower(),
                    )
        await conn.execute("UPDATE directory_meta SET version = version + 1")


async def seed(url: str, path: Path) -> None:
    """Load ``path`` into the database at ``url``."""
    data = load_seed(path)
    conn = await asyncpg.connect(url)
    try:
        await apply_seed(conn, data, path.name)
    except asyncpg.IntegrityConstraintViolationError as exc:  # e.g. a mailbox's type changed
        raise DataError(f"{path}: refused, nothing changed: {exc}") from exc
    finally:
        await conn.close()


def main() -> int:
    """``python -m mss.directory.seed FILE``."""
    parser = argparse.ArgumentParser(prog="python -m mss.directory.seed")
    parser.add_argument("file", type=Path)
    args = parser.parse_args()
    try:
        asyncio.run(seed(DirectorySettings().database_url, args.file))
    except DataError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"seed applied: {args.file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
