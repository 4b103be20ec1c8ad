"""A private Postfix instance playing another MSSanté operator, for interoperability tests.

One folder holds the whole instance: ``etc/`` (the config_directory: main.cf, master.cf, texthash
tables, which need no ``postmap``, and ``tls/`` with copies of the certificate, key and CA files),
``spool/`` (queue_directory, owned by root as Postfix requires), ``data/`` (data_directory, owned by
the mail_owner ``postfix``), ``mail/`` (the operator's mailboxes, maildirs written by virtual(8)) and
``maillog`` (written by postlogd: no syslog is needed).

It listens on two loopback ports:

- ``peer_port``, for other operators: STARTTLS is mandatory (``smtpd_tls_security_level = encrypt``)
  and so is a client certificate chaining to ``ca`` (``smtpd_tls_req_ccert = yes``); mail is only
  taken for the operator's own domain;
- ``submit_port``, plain SMTP from loopback: how a test hands the operator a message to send.

Outbound, each :class:`Route` sends a domain to ``[host]:port`` at TLS level ``secure`` (chain
verified against ``ca``, server certificate name matched), presenting ``identity`` as client
certificate unless ``client_certificate`` is false. DNS is never used.

Postfix must run as root here: ``postfix start`` binds the ports and its daemons drop to the user
``postfix``; ``postfix -c DIR`` needs no ``alternate_config_directories`` for root. The master (as
``postfix``) locks ``data/master.lock`` and virtual(8) writes the maildirs by absolute path, so the
instance cannot live below pytest's base folder, which pytest keeps at mode 0700 (and resets at every
session start). It runs in a fresh folder of the system temporary directory, linked from the test's
folder while it runs, and is moved into the test's folder once stopped, to be looked at like any
other test output.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosmtplib
import pytest
from mss.devstack.pki import Issued
from mss.devstack.ports import free_port, wait_listening

T = TypeVar("T")

REQUIRE_ENV = "MSS_REQUIRE_POSTFIX"
"""Set to ``1`` (CI does) so that a missing Postfix fails the tests instead of skipping them."""
_SEARCH = ("/usr/sbin", "/usr/lib/postfix/sbin", "/sbin", "/usr/bin", "/usr/local/sbin")

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:{peer_port} inet n - n - - smtpd
  -o syslog_name=postfix/peer
127.0.0.1:{submit_port} inet n - n - - smtpd
  -o syslog_name=postfix/submit
  -o smtpd_tls_security_level=none
  -o smtpd_tls_req_ccert=no
  -o smtpd_relay_restrictions=permit_mynetworks,reject
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def find_postfix() -> Path | None:
    """The ``postfix`` command, when the Debian package (or another) installed it."""
    found = shutil.which("postfix")
    if found:
        return Path(found)
    for folder in _SEARCH:
        candidate = Path(folder) / "postfix"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_postfix() -> Path:
    """The ``postfix`` command; skip the test without it (or without root), fail if it is required."""
    postfix = find_postfix()
    problem = None
    if postfix is None:
        problem = "Postfix is not installed (Debian package 'postfix')"
    elif os.geteuid() != 0:
        problem = "a private Postfix instance needs root (postfix start binds and drops privileges)"
    else:
        try:
            pwd.getpwnam("postfix")
        except KeyError:
            problem = "the user 'postfix' is missing: is the postfix package installed?"
    if problem is None and postfix is not None:
        return postfix
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{problem}, and {REQUIRE_ENV}=1 requires it")
    pytest.skip(problem or "Postfix unavailable")


@dataclass(frozen=True)
class Route:
    """Mail for ``domain`` goes to ``[host]:port``, whose certificate must name ``certificate_name``."""

    domain: str
    host: str
    port: int
    certificate_name: str

    @property
    def nexthop(self) -> str:
        """The next hop as Postfix writes it (no MX lookup)."""
        return f"[{self.host}]:{self.port}"


@dataclass(frozen=True)
class Delivery:
    """One delivery attempt of one recipient, as Postfix logs it."""

    queue_id: str
    recipient: str
    relay: str
    dsn: str
    status: str
    """``sent``, ``deferred`` or ``bounced``."""
    reply: str
    """Postfix's explanation, e.g. ``250 2.0.0 Ok: queued as ...`` or ``host ... said: 550 ...``."""


def _grant_search(folder: Path) -> None:
    """Give others search (not read) permission on ``folder`` and the folders above it."""
    for path in (folder, *folder.parents):
        mode = path.stat().st_mode
        if mode & stat.S_IXOTH:
            continue
        if path.stat().st_uid != os.geteuid():
            raise PermissionError(f"{path} is not searchable by the postfix user and not ours to change")
        path.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _special_files(folder: str, names: list[str]) -> list[str]:
    """Sockets and FIFOs of a Postfix queue: what ``shutil.copytree`` cannot copy."""
    return [n for n in names if not (os.path.isdir(Path(folder) / n) or os.path.isfile(Path(folder) / n))]


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (PID 1 may not reap Postfix's daemonised master)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rpartition(")")[2].split()[0] != "Z"


class PostfixPeer:
    """Configure, start, feed, read and stop one private Postfix instance (a context manager)."""

    def __init__(
        self,
        folder: Path,
        *,
        hostname: str,
        domain: str,
        mailboxes: Sequence[str],
        identity: Issued,
        ca: Path,
        routes: Sequence[Route] = (),
        client_certificate: bool = True,
        peer_port: int | None = None,
        submit_port: int | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.postfix = require_postfix()
        self.folder = folder
        """Where the instance is (a link to it while it runs, the instance itself once stopped)."""
        self.root = folder
        self.hostname = hostname
        self.domain = domain
        self.mailboxes = list(mailboxes)
        self.identity = identity
        self.ca = ca
        self.routes = list(routes)
        self.client_certificate = client_certificate
        self.peer_port = peer_port or free_port()
        self.submit_port = submit_port or free_port()
        self.settings = dict(settings or {})
        """Extra main.cf parameters (they override the defaults: later lines win)."""
        self._started = False

    @property
    def etc(self) -> Path:
        """The config_directory (``postfix -c``)."""
        return self.root / "etc"

    @property
    def spool(self) -> Path:
        """The queue_directory."""
        return self.root / "spool"

    @property
    def data(self) -> Path:
        """The data_directory."""
        return self.root / "data"

    @property
    def mail(self) -> Path:
        """The virtual_mailbox_base: one maildir per mailbox under ``<domain>/``."""
        return self.root / "mail"

    @property
    def maillog(self) -> Path:
        """The log of every Postfix process of the instance."""
        return self.root / "maillog"

    def _tls(self, name: str) -> str:
        return str(self.etc / "tls" / name)

    # -- configuration ---------------------------------------------------------------------

    def main_cf(self) -> str:
        """main.cf: an MSSanté operator's MTA, mutual TLS both ways, everything under ``root``."""
        owner = pwd.getpwnam("postfix")
        lines = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.spool),
            "data_directory": str(self.data),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": self.hostname,
            "mydomain": self.domain,
            "myorigin": "$mydomain",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mydestination": "",
            "local_recipient_maps": "",
            "local_transport": "error:local delivery is disabled",
            "alias_maps": "",
            "alias_database": "",
            "relay_domains": "",
            "mynetworks": "127.0.0.0/8",
            "local_header_rewrite_clients": "",
            "smtpd_relay_restrictions": "reject_unauth_destination",
            "biff": "no",
            "append_dot_mydomain": "no",
            "readme_directory": "no",
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": str(self.root),
            # no DNS: every route is [host]:port in the transport table
            "smtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "transport_maps": f"texthash:{self.etc / 'transport'}",
            # the operator's mailboxes
            "virtual_mailbox_domains": self.domain,
            "virtual_mailbox_base": str(self.mail),
            "virtual_mailbox_maps": f"texthash:{self.etc / 'mailboxes'}",
            "virtual_uid_maps": f"static:{owner.pw_uid}",
            "virtual_gid_maps": f"static:{owner.pw_gid}",
            # inbound from other operators: STARTTLS and a client certificate of the trust space
            "smtpd_tls_cert_file": self._tls("chain.pem"),
            "smtpd_tls_key_file": self._tls("key.pem"),
            "smtpd_tls_CAfile": self._tls("ca.pem"),
            "smtpd_tls_security_level": "encrypt",
            "smtpd_tls_req_ccert": "yes",
            "smtpd_tls_mandatory_protocols": ">=TLSv1.2",
            "smtpd_tls_protocols": ">=TLSv1.2",
            "smtpd_tls_received_header": "yes",
            "smtpd_tls_loglevel": "1",
            # outbound to other operators: verified server certificate, our client certificate
            "smtp_tls_security_level": "secure",
            "smtp_tls_CAfile": self._tls("ca.pem"),
            "smtp_tls_policy_maps": f"texthash:{self.etc / 'tls_policy'}",
            "smtp_tls_mandatory_protocols": ">=TLSv1.2",
            "smtp_tls_protocols": ">=TLSv1.2",
            "smtp_tls_loglevel": "1",
        }
        if self.client_certificate:
            lines["smtp_tls_cert_file"] = self._tls("chain.pem")
            lines["smtp_tls_key_file"] = self._tls("key.pem")
        lines.update(self.settings)
        return "".join(f"{name} = {value}\n" for name, value in lines.items())

    def write_config(self) -> None:
        """Create the folders (with the ownership Postfix checks) and write the configuration."""
        owner = pwd.getpwnam("postfix")
        for folder in (self.root, self.etc, self.spool, self.data, self.mail):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o755)
        _grant_search(self.root)
        os.chown(self.data, owner.pw_uid, owner.pw_gid)
        os.chown(self.mail, owner.pw_uid, owner.pw_gid)
        tls = self.etc / "tls"
        tls.mkdir(mode=0o700, exist_ok=True)
        for source, name in ((self.identity.chain_path, "chain.pem"), (self.ca, "ca.pem")):
            shutil.copyfile(source, tls / name)
        key = tls / "key.pem"
        key.touch(mode=0o600)
        key.write_bytes(self.identity.key_path.read_bytes())
        (self.etc / "main.cf").write_text(self.main_cf(), encoding="utf-8")
        (self.etc / "master.cf").write_text(
            MASTER_CF.format(peer_port=self.peer_port, submit_port=self.submit_port), encoding="utf-8"
        )
        table = {f"{box}@{self.domain}": f"{self.domain}/{box}/" for box in self.mailboxes}  # maildirs
        self._table("mailboxes", table)
        self._table("transport", {r.domain: f"smtp:{r.nexthop}" for r in self.routes})
        self._table("tls_policy", {r.nexthop: f"secure match={r.certificate_name}" for r in self.routes})

    def _table(self, name: str, entries: Mapping[str, str]) -> None:
        (self.etc / name).write_text("".join(f"{k} {v}\n" for k, v in entries.items()), encoding="utf-8")

    # -- life cycle ------------------------------------------------------------------------

    def command(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """``postfix -c <etc> ARGS`` (its output captured, never raising on failure)."""
        return subprocess.run(
            [str(self.postfix), "-c", str(self.etc), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            start_new_session=True,
        )

    def start(self, timeout: float = 60.0) -> None:
        """Write the configuration, ``postfix check`` it, start, and wait for both listeners."""
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="mss-postfix-"))
        self.folder.symlink_to(self.root, target_is_directory=True)
        self.write_config()
        checked = self.command("check", timeout=timeout)
        if checked.returncode != 0:
            raise RuntimeError(f"postfix check failed: {(checked.stdout + checked.stderr).strip()}")
        self._started = True  # even a failed start may leave a master behind: stop() cleans up
        started = self.command("start", timeout=timeout)
        if started.returncode != 0:
            raise RuntimeError(
                f"postfix start failed (exit {started.returncode}): "
                f"{(started.stdout + started.stderr).strip()}\n{self.log_tail()}"
            )
        for port in (self.peer_port, self.submit_port):
            wait_listening("127.0.0.1", port, timeout, f"Postfix {self.hostname}", self.running)

    def master_pid(self) -> int | None:
        """The pid of this instance's master, from its pid file."""
        try:
            return int((self.spool / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def running(self) -> bool:
        """True while the master runs."""
        pid = self.master_pid()
        return pid is not None and _alive(pid)

    def processes(self) -> list[int]:
        """Pids of every process of this instance (its daemons carry ``MAIL_CONFIG=<etc>``)."""
        marker = f"MAIL_CONFIG={self.etc}".encode()
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if marker in (proc / "environ").read_bytes().split(b"\0") and _alive(int(proc.name)):
                    found.append(int(proc.name))
        master = self.master_pid()
        if master is not None and _alive(master) and master not in found:
            found.append(master)
        return found

    def stop(self, timeout: float = 30.0) -> None:
        """``postfix stop``, then ``abort``; SIGKILL whatever of this instance is left.

        Then the instance moves into :attr:`folder`, where the log and the mail stay readable.
        """
        try:
            if self._started:
                self._started = False
                self._terminate(timeout)
        finally:
            self._keep()

    def _terminate(self, timeout: float) -> None:
        for action in ("stop", "abort"):
            if not self.processes():
                return
            self.command(action, timeout=timeout)
            deadline = time.monotonic() + timeout / 2
            while self.processes() and time.monotonic() < deadline:
                time.sleep(0.05)
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _keep(self) -> None:
        """Move the instance from the temporary directory to :attr:`folder` (in place of the link)."""
        if self.root == self.folder or not self.folder.is_symlink():
            return
        self.folder.unlink()
        try:
            self.root.rename(self.folder)
        except OSError:  # another file system: copy what can be copied (not the sockets)
            shutil.copytree(self.root, self.folder, symlinks=True, ignore=_special_files)
            shutil.rmtree(self.root, ignore_errors=True)
        self.root = self.folder

    def __enter__(self) -> PostfixPeer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- mail in and out -------------------------------------------------------------------

    async def submit(self, mail_from: str, recipients: Iterable[str], content: bytes) -> str:
        """Hand Postfix a message on its submission port; its queue id."""
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=self.submit_port, local_hostname="client.test", start_tls=False
        )
        await client.connect()
        try:
            refused, reply = await client.sendmail(mail_from, list(recipients), content)
        finally:
            await client.quit()
        assert refused == {}, refused
        match = re.search(r"queued as (\w+)", reply)
        assert match is not None, reply
        return match.group(1)

    def maildir(self, address: str) -> Path:
        """Where Postfix delivers ``address`` (one of ``mailboxes``)."""
        local, _, domain = address.rpartition("@")
        assert domain == self.domain, address
        assert local in self.mailboxes, address
        return self.mail / domain / local

    def delivered(self, address: str) -> list[bytes]:
        """The messages delivered to ``address`` (maildir ``new/``, oldest first), as stored."""
        folder = self.maildir(address) / "new"
        if not folder.exists():
            return []
        return [path.read_bytes() for path in sorted(folder.iterdir(), key=lambda p: p.name)]

    async def wait_delivered(self, address: str, contains: bytes, timeout: float = 30.0) -> bytes:
        """The first message delivered to ``address`` that contains ``contains``, waiting for it."""

        def probe() -> bytes | None:
            return next((m for m in self.delivered(address) if contains in m), None)

        return await self._poll(probe, timeout, f"a message with {contains!r} in {self.maildir(address)}")

    # -- diagnostics -----------------------------------------------------------------------

    def log(self) -> str:
        """The whole maillog."""
        try:
            return self.maillog.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        """The end of the maillog, for error messages."""
        return "\n".join(self.log().splitlines()[-lines:]) or "(maillog empty)"

    async def wait_log(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The first maillog line matching the regular expression ``pattern``, waiting for it."""
        compiled = re.compile(pattern, re.MULTILINE)
        return await self._poll(lambda: compiled.search(self.log()), timeout, f"log line /{pattern}/")

    async def wait_delivery(self, queue_id: str, recipient: str, timeout: float = 30.0) -> Delivery:
        """The first logged delivery attempt of ``recipient`` in message ``queue_id``."""
        found = await self.wait_log(
            rf"{re.escape(queue_id)}: to=<{re.escape(recipient)}>,(?: orig_to=<[^>]*>,)?"
            r" relay=(?P<relay>[^,]+), .*? dsn=(?P<dsn>[\d.]+), status=(?P<status>\w+) \((?P<reply>.*)\)$",
            timeout,
        )
        return Delivery(queue_id, recipient, found["relay"], found["dsn"], found["status"], found["reply"])

    def queue(self) -> list[dict[str, Any]]:
        """``postqueue -j``: one dict per queued message (queue_name, recipients with delay_reason...)."""
        postqueue = self.postfix.with_name("postqueue")
        listed = subprocess.run(
            [str(postqueue if postqueue.exists() else "postqueue"), "-c", str(self.etc), "-j"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]

    async def wait_queued(
        self, queue_id: str, queue_name: str = "deferred", timeout: float = 30.0
    ) -> dict[str, Any]:
        """Message ``queue_id`` as ``postqueue -j`` lists it once it is in ``queue_name``."""

        def probe() -> dict[str, Any] | None:
            return next(
                (m for m in self.queue() if m["queue_id"] == queue_id and m["queue_name"] == queue_name),
                None,
            )

        return await self._poll(probe, timeout, f"{queue_id} in the {queue_name} queue")

    async def _poll(self, probe: Callable[[], T | None], timeout: float, what: str) -> T:
        """``probe()`` until it gives something, at most ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = 0.02
        while True:
            found = probe()
            if found is not None:
                return found
            if loop.time() > deadline:
                tail = self.log_tail()
                raise AssertionError(f"{what}: not seen after {timeout} s; maillog ends with\n{tail}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)
