"""``task up`` / ``task down``: the whole backbone on this machine, data under one folder.

``python -m mss.devstack up`` starts nats-server (JetStream) and PostgreSQL on loopback, applies the
migrations, provisions the demo GHT, starts two demo mail servers (the proxy establishment's
smarthost and the demo peer operator), then the six services, and prints what listens where.
Running it again restarts the services and keeps the data. ``down`` stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mss.core.sessions import new_key_files
from mss.db.migrate import migrate
from mss.devstack.demo import DemoPki, demo_pki
from mss.devstack.layout import SERVICES, Layout
from mss.devstack.nats import NatsConfig, start_nats
from mss.devstack.ports import free_port, wait_listening
from mss.devstack.postgres import PostgresConfig, is_running, start_postgres, stop_postgres
from mss.devstack.processes import pid_alive, python_module, spawn, terminate, wait_gone

SINKS = ("smarthost", "peer_operator")


class Stack:
    """The local backbone rooted at ``layout.home``."""

    def __init__(
        self, layout: Layout, seed: Path, *, demo_mail_servers: bool = True, harness: bool = False
    ) -> None:
        self.layout = layout
        self.nats = NatsConfig(layout.home / "nats", port=layout.nats, harness=harness)
        """The NATS server and who may connect (``harness``: also the tests' observer)."""
        self.seed = seed
        self.sinks = SINKS if demo_mail_servers else ()
        self.run = layout.home / "run"
        self.logs = layout.home / "logs"
        self.postgres = PostgresConfig(layout.home / "postgres", port=layout.postgres)
        self.pki_folder = layout.home / "pki"
        self.pki: DemoPki | None = None
        """The demo PKI, once up."""
        self.env: dict[str, str] = {}
        """The services' environment, once up."""
        self.replicas: dict[str, int] = {}
        """HTTP port of each further instance started (``<service>-<index>``)."""

    def pid_file(self, name: str) -> Path:
        """Pid file of a process we started."""
        return self.run / f"{name}.pid"

    def up(self) -> None:
        """Start (or restart) everything and wait until every service is ready."""
        self.stop_services()
        self.start_infrastructure()
        url = self.postgres.url()
        asyncio.run(migrate(url))
        self.pki = pki = demo_pki(self.pki_folder)
        env = self.layout.environment(url, pki, self.nats)
        env["MSS_DIRECTORY_ADMIN_TOKENS"] = json.dumps({"local-admin": self.admin_token()})
        env["MSS_POLICY_PATIENT_HASH_KEY"] = env["MSS_TRACING_PATIENT_HASH_KEY"] = self.secret(
            "patient-hash-key"
        )
        env["MSS_TRACING_EXPORT_KEY_FILE"] = str(self.export_key_file())
        private, public = self.session_key_files()
        env["MSS_DIRECTORY_SESSION_KEY_FILE"], env["MSS_STORAGE_SESSION_PUBLIC_KEY_FILE"] = (
            str(private),
            str(public),
        )
        self.env = env
        subprocess.run(
            python_module("mss.directory.seed", str(self.seed)), env={**os.environ, **env}, check=True
        )
        self.set_demo_passwords(env)
        self.set_audit_accounts(env)
        for sink in self.sinks:
            port = getattr(self.layout, sink)
            identity = pki.peer_operator if sink == "peer_operator" else pki.smarthost
            tls = ["--tls-cert", str(identity.chain_path), "--tls-key", str(identity.key_path)]
            if sink == "peer_operator":  # another operator: mutual TLS; the smarthost: STARTTLS only
                tls += ["--tls-ca", str(pki.ca)]
            spawn(
                python_module(
                    "mss.devstack.sink",
                    "--port",
                    str(port),
                    "--folder",
                    str(self.layout.home / "mail" / sink),
                    *tls,
                ),
                log=self.logs / f"sink-{sink}.log",
                pid_file=self.pid_file(f"sink-{sink}"),
            )
        for name in SERVICES:  # started together: each waits for the streams others own
            self.start(name)
        for name in SERVICES:
            self.wait_ready(name)
        for sink in self.sinks:
            wait_listening("127.0.0.1", getattr(self.layout, sink), 20, f"demo mail server {sink}")

    @property
    def admin_token_file(self) -> Path:
        """The bearer token of the admin API (``mss tenant …``, ``mss bal …`` read it from there)."""
        return self.layout.home / "admin-token"

    def admin_token(self) -> str:
        """The local admin token, made once (mode 600)."""
        return self.secret(self.admin_token_file.name)

    def secret(self, name: str) -> str:
        """A random secret kept in the home folder (mode 600), made on first use."""
        path = self.layout.home / name
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
        return path.read_text(encoding="utf-8").strip()

    @property
    def passwords_file(self) -> Path:
        """``ADDRESS PASSWORD`` lines: the SMTP AUTH passwords of the demo's people and services."""
        return self.layout.home / "demo-passwords"

    def demo_passwords(self) -> dict[str, str]:
        """The demo passwords (empty before the first ``up``)."""
        if not self.passwords_file.exists():
            return {}
        lines = self.passwords_file.read_text(encoding="utf-8").splitlines()
        return dict(line.split(" ", 1) for line in lines if " " in line)

    def set_demo_passwords(self, env: dict[str, str]) -> None:
        """Give every personal and organisational mailbox of the seed a password (kept across runs)."""
        seed = yaml.safe_load(self.seed.read_text(encoding="utf-8"))
        addresses = [
            str(box["address"]).lower()
            for establishment in seed["establishments"]
            for box in establishment.get("mailboxes", [])
            if box.get("type") in ("PER", "ORG")
        ]
        known = self.demo_passwords()
        passwords = {address: known.get(address) or secrets.token_urlsafe(12) for address in addresses}
        subprocess.run(
            python_module("mss.directory.password", *passwords),
            input="".join(f"{password}\n" for password in passwords.values()),
            text=True,
            env={**os.environ, **env},
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.passwords_file.touch(mode=0o600)
        self.passwords_file.write_text("".join(f"{a} {p}\n" for a, p in passwords.items()), encoding="utf-8")

    @property
    def audit_accounts_file(self) -> Path:
        """``LOGIN PASSWORD`` lines: the demo accounts of the audit UI."""
        return self.layout.home / "audit-accounts"

    def audit_accounts(self) -> dict[str, str]:
        """The audit UI's demo accounts and their passwords (empty before the first ``up``)."""
        if not self.audit_accounts_file.exists():
            return {}
        lines = self.audit_accounts_file.read_text(encoding="utf-8").splitlines()
        return dict(line.split(" ", 1) for line in lines if " " in line)

    def set_audit_accounts(self, env: dict[str, str]) -> None:
        """The GHT administrator ``admin`` and chu-demo's data protection officer ``dpo-chu-demo``."""
        seed = yaml.safe_load(self.seed.read_text(encoding="utf-8"))
        ght, first = seed["ght"]["id"], seed["establishments"][0]["id"]
        known = self.audit_accounts()
        accounts = {"admin": ("ght_admin", None), f"dpo-{first}": ("auditor", first)}
        passwords = {login: known.get(login) or secrets.token_urlsafe(12) for login in accounts}
        for login, (role, tenant) in accounts.items():
            scope = ["--tenant", tenant] if tenant else []
            subprocess.run(
                python_module("mss.tracing.account", login, "--role", role, "--ght", ght, *scope),
                input=passwords[login] + "\n",
                text=True,
                env={**os.environ, **env},
                check=True,
            )
        self.audit_accounts_file.touch(mode=0o600)
        self.audit_accounts_file.write_text(
            "".join(f"{a} {p}\n" for a, p in passwords.items()), encoding="utf-8"
        )

    def session_key_files(self) -> tuple[Path, Path]:
        """The directory's key signing proofs of sign-in (mode 600) and its public half for storage,
        made once."""
        private, public = self.layout.home / "session-key.pem", self.layout.home / "session-key.pub.pem"
        if not private.exists() or not public.exists():
            new_key_files(private, public)
        return private, public

    def export_key_file(self) -> Path:
        """The Ed25519 key that signs audit exports, made once (mode 600)."""
        path = self.layout.home / "export-key.pem"
        if not path.exists():
            key = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            path.touch(mode=0o600)
            path.write_bytes(key)
        return path

    def start_infrastructure(self) -> None:
        """nats-server and PostgreSQL, unless already running."""
        if pid_alive(self.pid_file("nats")) is None:
            process = start_nats(self.nats, detach=True)
            self.pid_file("nats").parent.mkdir(parents=True, exist_ok=True)
            self.pid_file("nats").write_text(str(process.pid))
        if not (self.postgres.data / "PG_VERSION").exists() or not is_running(self.postgres):
            start_postgres(self.postgres)

    def start(self, name: str) -> None:
        """Start one service (after ``up``); ``wait_ready`` tells when it serves."""
        spawn(
            python_module(f"mss.{name}"),
            log=self.logs / f"{name}.log",
            pid_file=self.pid_file(name),
            env=self.env,
        )

    def start_replica(self, name: str, index: int) -> int:
        """Start instance ``index`` (2, 3…) of a service beside the first, on its own HTTP port, and
        return the port; ``wait_ready("<service>-<index>")`` tells when it serves, ``stop_services``
        stops it too."""
        port = self.replicas[f"{name}-{index}"] = free_port()
        prefix = f"MSS_{name.upper()}_"
        spawn(
            python_module(f"mss.{name}"),
            log=self.logs / f"{name}-{index}.log",
            pid_file=self.pid_file(f"{name}-{index}"),
            env={**self.env, prefix + "HTTP_PORT": str(port)},
        )
        return port

    def kill(self, name: str) -> None:
        """SIGKILL one service, as a crash would: no draining, nothing acknowledged after."""
        pid = pid_alive(self.pid_file(name))
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            wait_gone(pid)
        self.pid_file(name).unlink(missing_ok=True)

    def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        """Poll the service's /readyz (``name`` may be a further instance, ``<service>-<index>``); fail
        with its log's tail when it dies or times out."""
        port = self.replicas[name] if name in self.replicas else self.layout.http[name]
        url = f"http://127.0.0.1:{port}/readyz"
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback URL
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if pid_alive(self.pid_file(name)) is None or time.monotonic() > deadline:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"service {name} did not become ready; its log ends with:\n{tail}")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def stop_services(self) -> list[str]:
        """Stop the services and the demo mail servers (together: each drains its own work)."""
        replicas = [p.stem for p in self.run.glob("*-[0-9]*.pid")]
        names = [*SERVICES, *replicas, *(f"sink-{s}" for s in SINKS)]
        running = terminate(*(self.pid_file(name) for name in names))
        return [name for name in names if self.pid_file(name) in running]

    def down(self) -> list[str]:
        """Stop everything this stack started."""
        stopped = self.stop_services()
        if terminate(self.pid_file("nats")):
            stopped.append("nats")
        if (self.postgres.data / "postmaster.pid").exists():
            stop_postgres(self.postgres)
            stopped.append("postgres")
        return stopped

    def describe(self) -> str:
        """What listens where."""
        lay = self.layout
        rows = [
            ("SMTP, peer operators", f"127.0.0.1:{lay.peer_smtp}"),
            ("SMTP, submission", f"127.0.0.1:{lay.submission}"),
            (
                "audit UI",
                f"http://127.0.0.1:{lay.http['tracing']}/ui/ (accounts in {self.audit_accounts_file})",
            ),
            ("audit API (OpenAPI)", f"http://127.0.0.1:{lay.http['tracing']}/api/v1/openapi.json"),
            ("admin API (directory)", f"http://127.0.0.1:{lay.http['directory']}"),
            ("NATS (JetStream, TLS)", f"{self.nats.url} (CA {self.nats.tls.ca})"),
            ("NATS credentials, one per component", str(self.nats.identities.folder)),
            (
                "PostgreSQL",
                f"127.0.0.1:{lay.postgres} (database mss, password in {self.postgres.password_file})",
            ),
            (
                "demo smarthost (ch-exemple)",
                f"127.0.0.1:{lay.smarthost} -> {lay.home / 'mail' / 'smarthost'}",
            ),
            ("demo peer operator", f"127.0.0.1:{lay.peer_operator} -> {lay.home / 'mail' / 'peer_operator'}"),
            ("demo PKI (CA, CRL, certificates)", str(self.pki_folder)),
            ("demo SMTP AUTH passwords", str(self.passwords_file)),
            ("admin API token (mss tenant/bal)", str(self.admin_token_file)),
        ]
        rows += [
            (f"{name} /healthz /readyz /metrics", f"http://127.0.0.1:{port}")
            for name, port in lay.http.items()
        ]
        width = max(len(r[0]) for r in rows)
        lines = [f"  {label.ljust(width)}  {where}" for label, where in rows]
        return "mss is up:\n" + "\n".join(lines) + f"\n  logs: {self.logs}/\n"


def main() -> int:
    """``python -m mss.devstack.stack up|down [--home .mss] [--seed FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m mss.devstack.stack")
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--home", type=Path, default=Path(".mss"))
    parser.add_argument("--seed", type=Path, default=Path("deploy/demo/seed.yaml"))
    args = parser.parse_args()
    stack = Stack(Layout(home=args.home.resolve()), args.seed)
    if args.command == "down":
        stopped = stack.down()
        print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
        return 0
    try:
        stack.up()
    except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as exc:
        print(f"task up failed: {exc}", file=sys.stderr)
        return 1
    print(stack.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
