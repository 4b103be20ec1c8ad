"""A throwaway Postfix relay instance living entirely in a temporary folder.

Layout under ``root``: ``etc/`` (main.cf, master.cf: the config_directory), ``spool/`` (the
queue_directory, root-owned as Postfix requires), ``data/`` (data_directory, owned by the
mail_owner ``postfix``), and ``maillog`` (written by postlogd: there is no syslog here).

The instance accepts mail from 127.0.0.0/8 on 127.0.0.1:<smtpd_port> (the only inet service)
and relays everything to ``[127.0.0.1]:<relay_port>``; there is no local delivery. Otherwise
Postfix defaults are kept on purpose (queue fsyncs, in_flow_delay, 20 concurrent deliveries to
the one destination, connection caching), so this is an untuned but sane production relay.
Mind in_flow_delay (1s): when the queue manager lags (a loaded machine), smtpd pauses up to 1s
before accepting, so short 10 KB runs can show a ~1000 ms p99 and accepted == delivered rate.
``--postfix-param in_flow_delay=0`` shows Postfix without that flow control.
All services run unchrooted, so no chroot jail has to be populated.

Postfix-as-root notes: ``postfix start`` must run as root (master binds ports and drops to
``mail_owner``); the queue directory must be owned by root while data_directory must be owned
by the mail_owner; ``postfix -c DIR`` is fine for root without alternate_config_directories;
postlogd only writes a maillog_file under ``maillog_file_prefixes`` (default /var), so the
prefix is set to the instance folder.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from common import BenchError, wait_for_port
from install import PostfixTools

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
{listen} inet  n       -       n       -       -       smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
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
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")


def _main_cf(root: Path, relay_port: int, process_limit: int) -> str:
    return f"""\
compatibility_level = 3.6
queue_directory = {root / "spool"}
data_directory = {root / "data"}
mail_owner = postfix
setgid_group = postdrop
myhostname = bench-postfix.localdomain
mydomain = localdomain
myorigin = $myhostname
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
local_recipient_maps =
local_transport = error:local delivery is disabled
alias_maps =
alias_database =
relay_domains =
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{relay_port}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
default_process_limit = {process_limit}
smtpd_tls_security_level = none
smtp_tls_security_level = none
biff = no
append_dot_mydomain = no
readme_directory = no
maillog_file = {root / "maillog"}
maillog_file_prefixes = {root}
"""


class PostfixInstance:
    """Configure, start and stop one private Postfix instance. Use as a context manager."""

    def __init__(
        self,
        tools: PostfixTools,
        root: Path,
        smtpd_port: int,
        relay_port: int,
        process_limit: int = 100,
        extra_params: dict[str, str] | None = None,
    ) -> None:
        self.tools = tools
        self.root = root
        self.host = "127.0.0.1"
        self.smtpd_port = smtpd_port
        self.relay_port = relay_port
        self.process_limit = process_limit
        self.extra_params = extra_params or {}
        self.etc = root / "etc"
        self.spool = root / "spool"
        self._started = False

    # -- setup -----------------------------------------------------------------------------
    def write_config(self) -> None:
        if os.geteuid() != 0:
            raise BenchError(
                "the Postfix reference needs root (postfix start binds and "
                "drops privileges); run as root or use --paths sink,target"
            )
        try:
            owner = pwd.getpwnam("postfix")
        except KeyError as exc:
            raise BenchError("user 'postfix' missing: is the postfix package installed?") from exc
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        for directory in (self.etc, self.spool, self.root / "data"):
            directory.mkdir(parents=True, exist_ok=True)
        os.chown(self.root / "data", owner.pw_uid, owner.pw_gid)
        main_cf = _main_cf(self.root, self.relay_port, self.process_limit)
        main_cf += "".join(f"{name} = {value}\n" for name, value in self.extra_params.items())
        (self.etc / "main.cf").write_text(main_cf)  # later lines win in main.cf
        listen = f"{self.host}:{self.smtpd_port}"
        (self.etc / "master.cf").write_text(MASTER_CF.format(listen=listen))

    def _postfix(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.tools.postfix), "-c", str(self.etc), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            start_new_session=True,
        )

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        self.write_config()
        result = self._postfix("start", timeout=timeout)
        self._started = True  # even a failed start may have left a master behind
        if result.returncode != 0:
            raise BenchError(
                f"postfix start failed (exit {result.returncode}): "
                f"{(result.stdout + result.stderr).strip()}\n{self.log_tail()}"
            )
        wait_for_port(self.host, self.smtpd_port, timeout, "Postfix smtpd")

    def master_pid(self) -> int | None:
        try:
            return int((self.spool / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the instance (stop, then abort, then SIGKILL the master) and wait for it."""
        if not self._started:
            return
        self._started = False
        pid = self.master_pid()
        for action in ("stop", "abort"):
            self._postfix(action, timeout=timeout)
            if pid is None or _wait_gone(pid, timeout / 2):
                return
        if pid is not None:
            os.kill(pid, 9)
            _wait_gone(pid, 5)

    def __enter__(self) -> PostfixInstance:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- diagnostics -----------------------------------------------------------------------
    def queued(self) -> int:
        """Number of queue files still in the instance's queues."""
        total = 0
        for queue in QUEUES:
            for _dirpath, _dirs, files in os.walk(self.spool / queue):
                total += len(files)
        return total

    def log_tail(self, lines: int = 10) -> str:
        log = self.root / "maillog"
        if not log.exists():
            return "(no maillog)"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def remove_files(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (PID 1 here may not reap orphans)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rpartition(")")[2].split()[0] != "Z"
