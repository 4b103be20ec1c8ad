"""``mss trust`` against a real nats-server holding the backbone's streams.

Most cases go through the command's entry (``mss.cli.__main__.run``: argument parsing, error
reporting, exit status) in the test's process; one runs the installed command as a child process
with its settings from the environment, as an operator would.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from mss.bus import streams
from mss.cli.__main__ import run
from mss.cli.settings import CliSettings
from mss.cli.trust import import_list
from mss.devstack.ports import free_port
from mss.policy.domain.trustlist import parse_trust_list
from mss.policy.trust.store import Stored, TrustStore
from mss.testing.fixtures import DEMO, RunningNats

pytestmark = pytest.mark.integration

DEMO_LIST = DEMO / "listeblanchemssante.xml"
DEMO_BYTES = DEMO_LIST.read_bytes()
DEMO_VERSION = parse_trust_list(DEMO_BYTES).version
CUT = DEMO_BYTES[: DEMO_BYTES.index(b"<Domaine>", DEMO_BYTES.index(b"</Domaine>")) + 40]
"""The demo list cut inside its second domain."""
PEER_DN = "CN=smtp-1.autre-operateur.example,OU=00000000000002,O=AUTRE OPERATEUR,ST=Rhône (69),C=FR"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


async def mss(ops: dict[str, str], *args: str, timeout: float = 5.0, max_bytes: int = 20_000_000) -> Run:
    """``mss ARGS`` through the command's own entry (argument parsing, errors, exit status)."""
    out, err = io.StringIO(), io.StringIO()
    settings = CliSettings(**ops, timeout=timeout, trust_list_max_bytes=max_bytes)
    code = await asyncio.wait_for(run(list(args), settings, out, err), 60)
    return Run(code, out.getvalue(), err.getvalue())


async def installed(ops: dict[str, str], *args: str) -> Run:
    """``mss ARGS`` as a child process, settings from ``MSS_CLI_*`` (bounded in time)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mss.cli",
        *args,
        env={
            **os.environ,
            **{f"MSS_CLI_{key.upper()}": value for key, value in ops.items()},
            "MSS_CLI_TIMEOUT": "5",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def current(bus: nats.NATS) -> Stored:
    stored = await TrustStore(bus).current()
    assert stored is not None
    return stored


@pytest.fixture
async def bucket(bus: nats.NATS) -> None:
    """The list's bucket, created as policy, its owner, creates it when it starts."""
    await streams.ensure_bucket(bus.jetstream(), streams.TRUST_BUCKET)


def clear_error(run: Run, fragment: str) -> None:
    """Exit status 2 and one line on stderr naming the problem, nothing on stdout."""
    assert run.code == 2, run
    assert run.err.startswith("mss: "), run
    assert run.err.count("\n") == 1, run
    assert fragment in run.err, run
    assert run.out == "", run


async def test_before_any_import_the_commands_say_there_is_no_list(
    bus: nats.NATS, nats_server: RunningNats
) -> None:
    status, show, imported = await asyncio.gather(
        mss(nats_server.settings("ops"), "trust", "status"),
        mss(nats_server.settings("ops"), "trust", "show", "gmail.com"),
        mss(nats_server.settings("ops"), "trust", "import", str(DEMO_LIST)),  # the operator creates nothing
    )
    for refused in (status, show, imported):
        clear_error(refused, "bucket mss-trust-list does not exist: start policy, which creates it")


async def test_import_then_show_and_status(
    bus: nats.NATS, bucket: None, nats_server: RunningNats, tmp_path: Path
) -> None:
    checksum = tmp_path / "listeblanchemssante.xml.sha256"
    checksum.write_text(f"{hashlib.sha256(DEMO_BYTES).hexdigest()}  listeblanchemssante.xml\n")

    imported = await mss(
        nats_server.settings("ops"), "trust", "import", str(DEMO_LIST), "--checksum", str(checksum)
    )

    assert imported.code == 0, imported
    assert imported.out.startswith(f"imported {DEMO_VERSION}: 3 domains, generated 2026-11-01T00:00:00Z")
    stored = await current(bus)
    assert stored.data == DEMO_BYTES
    listed, unlisted, status, again = await asyncio.gather(
        mss(nats_server.settings("ops"), "trust", "show", "Autre-Operateur.MSSante.fr"),
        mss(nats_server.settings("ops"), "trust", "show", "gmail.com"),
        mss(nats_server.settings("ops"), "trust", "status"),
        mss(nats_server.settings("ops"), "trust", "import", str(DEMO_LIST)),
    )
    assert (listed.code, listed.err) == (0, "")
    assert listed.out.splitlines() == [
        "autre-operateur.mssante.fr: listed",
        f"  operator certificate: {PEER_DN}",
        f"list version: {DEMO_VERSION}",
    ]
    assert (unlisted.code, unlisted.err) == (1, "")
    assert unlisted.out.splitlines()[0] == "gmail.com: not listed"
    assert status.code == 0, status
    rows = dict(line.split(":", 1) for line in status.out.splitlines())
    assert {key: value.strip() for key, value in rows.items() if key != "loaded at"} == {
        "version": DEMO_VERSION,
        "generated at": "2026-11-01T00:00:00Z",
        "domains": "3",
        "source": f"import:{DEMO_LIST.resolve()}",
        "revision": str(stored.revision),
        "sha256": hashlib.sha256(DEMO_BYTES).hexdigest(),
        "source checked": "never",
    }
    assert (again.code, again.out.strip()) == (
        0,
        f"already in force: {DEMO_VERSION} (revision {stored.revision})",
    )
    assert (await current(bus)).revision == stored.revision


BAD = {  # the file, whether --checksum names the demo list's digest, extra settings, the error
    "not-xml": (b"<ListeBlancheMSSante><oops", False, {}, "not acceptable XML"),
    "wrong-namespace": (
        DEMO_BYTES.replace(b"https://listeblanche.mssante.fr/schema", b"urn:other"),
        False,
        {},
        "expected ListeBlancheMSSante in",
    ),
    "cut-inside-the-domains": (CUT, False, {}, "not acceptable XML"),
    "checksum-mismatch": (DEMO_BYTES.replace(b"2026-11-01", b"2026-11-02"), True, {}, "checksum mismatch"),
    "over-the-size-limit": (DEMO_BYTES, False, {"max_bytes": 1000}, "1000-byte limit"),
}


def with_one_more_domain(data: bytes) -> bytes:
    """The demo list and one more domain: the list in force differs from every file imported below."""
    return data.replace(
        b"</ListeDomaines>", b"<Domaine><Nom>en-place.mssante.fr</Nom></Domaine></ListeDomaines>"
    )


@pytest.mark.parametrize("case", list(BAD))
async def test_a_bad_file_is_refused_and_the_list_in_force_unchanged(
    bus: nats.NATS, bucket: None, nats_server: RunningNats, tmp_path: Path, case: str
) -> None:
    good = tmp_path / "good.xml"
    good.write_bytes(with_one_more_domain(DEMO_BYTES))
    assert await import_list(CliSettings(**nats_server.settings("ops")), good, None, io.StringIO()) == 0
    before = await current(bus)
    data, with_checksum, settings, fragment = BAD[case]
    bad = tmp_path / "bad.xml"
    bad.write_bytes(data)
    checksum = tmp_path / "bad.xml.sha256"
    checksum.write_text(hashlib.sha256(DEMO_BYTES).hexdigest() + "\n")
    options = ["--checksum", str(checksum)] if with_checksum else []

    refused = await mss(nats_server.settings("ops"), "trust", "import", str(bad), *options, **settings)

    clear_error(refused, fragment)
    after = await current(bus)
    assert (after.revision, after.data) == (before.revision, before.data)


async def test_an_unreachable_nats_is_a_clear_error_within_the_timeout(nats_server: RunningNats) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    nowhere = {**nats_server.settings("ops"), "nats_url": f"tls://127.0.0.1:{free_port()}"}
    refused = await mss(nowhere, "trust", "import", str(DEMO_LIST), timeout=1)
    clear_error(refused, "cannot reach NATS")
    assert loop.time() - started < 30


async def test_the_installed_command_imports_shows_and_refuses_with_its_exit_statuses(
    bus: nats.NATS, bucket: None, nats_server: RunningNats, tmp_path: Path
) -> None:
    imported = await installed(nats_server.settings("ops"), "trust", "import", str(DEMO_LIST))
    assert (imported.code, imported.err) == (0, ""), imported
    assert imported.out.startswith(f"imported {DEMO_VERSION}: 3 domains")
    malformed = tmp_path / "malformed.xml"
    malformed.write_bytes(CUT)
    unlisted, refused = await asyncio.gather(
        installed(nats_server.settings("ops"), "trust", "show", "gmail.com"),
        installed(nats_server.settings("ops"), "trust", "import", str(malformed)),
    )
    assert (unlisted.code, unlisted.out.splitlines()[0]) == (1, "gmail.com: not listed"), unlisted
    clear_error(refused, "not acceptable XML")
    assert (await current(bus)).data == DEMO_BYTES
