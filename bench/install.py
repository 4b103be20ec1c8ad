"""Locate the Postfix tools, installing the Debian ``postfix`` package when they are missing.

The package is installed non-interactively with debconf preseeded to "No configuration", so it
writes no /etc/postfix/main.cf and starts no system instance. Containers usually deny service
starts through /usr/sbin/policy-rc.d anyway; if a system instance does end up listening on port
25 right after *our* install, it is stopped (an instance that was running before is left alone).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from common import BenchError, port_accepts

SEARCH_DIRS = ("/usr/sbin", "/usr/lib/postfix/sbin", "/sbin", "/usr/bin", "/usr/local/sbin")
TOOLS = ("smtp-source", "smtp-sink", "postfix", "postconf")
DEBCONF_PRESEED = "postfix postfix/main_mailer_type select No configuration\n"
APT_TIMEOUT_S = 900


@dataclass(frozen=True)
class PostfixTools:
    """Absolute paths of the Postfix programs the bench uses."""

    smtp_source: Path
    smtp_sink: Path
    postfix: Path
    postconf: Path

    def version(self) -> str:
        """``mail_version`` as reported by postconf (defaults only: no main.cf needed)."""
        out = subprocess.run(
            [str(self.postconf), "-d", "-h", "mail_version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return out.stdout.strip() or "unknown"


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _which(name: str) -> Path | None:
    found = shutil.which(name)
    if found:
        return Path(found)
    for directory in SEARCH_DIRS:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_tools() -> PostfixTools | None:
    """Return the tool paths, or None when any of them is missing."""
    paths: list[Path] = []
    for name in TOOLS:
        path = _which(name)
        if path is None:
            return None
        paths.append(path)
    return PostfixTools(*paths)


def _run(cmd: list[str], env: dict[str, str], stdin: str | None = None) -> None:
    _log(f"[install] {' '.join(cmd)}")
    try:
        result = subprocess.run(
            cmd, input=stdin, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(f"{' '.join(cmd)} could not complete: {exc}") from exc
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise BenchError(f"{' '.join(cmd)} failed (exit {result.returncode}):\n" + "\n".join(tail))


def _apt_install(env: dict[str, str]) -> None:
    cmd = [
        "apt-get",
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        "-o",
        "Dpkg::Options::=--force-confdef",
        "-o",
        "Dpkg::Options::=--force-confold",
        "postfix",
    ]
    try:
        _run(cmd, env)
    except BenchError:
        # Usually a stale or missing package list: refresh once and retry.
        _run(["apt-get", "update", "-q"], env)
        _run(cmd, env)


def _stop_system_instance(tools: PostfixTools) -> None:
    """Stop a system Postfix the package may have started on port 25."""
    if not port_accepts("127.0.0.1", 25):
        return
    _log("[install] something listens on port 25 after install; stopping system postfix")
    for cmd in (["service", "postfix", "stop"], [str(tools.postfix), "stop"]):
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        if not port_accepts("127.0.0.1", 25):
            return
    raise BenchError("a system Postfix keeps listening on port 25; stop it by hand")


def ensure_tools(auto_install: bool = True) -> PostfixTools:
    """Find smtp-source/smtp-sink/postfix/postconf, installing the package if allowed."""
    tools = find_tools()
    if tools is not None:
        return tools
    if not auto_install:
        raise BenchError(
            "Postfix tools missing (smtp-source, smtp-sink, postfix, postconf); "
            "install the Debian 'postfix' package or drop --no-install"
        )
    if os.geteuid() != 0:
        raise BenchError("Postfix tools missing and not root: run 'apt-get install postfix' as root first")
    if shutil.which("apt-get") is None:
        raise BenchError("Postfix tools missing and apt-get not found (Debian/Ubuntu only)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", DEBCONF_NONINTERACTIVE_SEEN="true")
    port25_before = port_accepts("127.0.0.1", 25)
    _run(["debconf-set-selections"], env, stdin=DEBCONF_PRESEED)
    _apt_install(env)
    tools = find_tools()
    if tools is None:
        raise BenchError("postfix installed but smtp-source/smtp-sink still not found")
    if not port25_before:
        _stop_system_instance(tools)
    return tools
