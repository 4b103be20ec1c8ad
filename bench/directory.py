"""National directory mirror: import of a full-size extraction, then completion search and exact lookups.

A private PostgreSQL (embedded, on a free port, in a temp folder) is started and migrated; a
synthetic extraction of ``--rows`` rows (535,000: the size of the ANS file) is generated as the zip
the ANS serves, then imported by ``python -m mss.directory.national import`` in a child process,
exactly as an operator runs it. Figures:

* import wall time, and the peak resident memory of the importing process (``ru_maxrss`` of that
  child, from ``wait4``); PostgreSQL's own memory is separate and not counted; the size of the
  version's table and indexes is given instead;
* completion search (``queries.search``, one client, one query at a time) over the full mirror:
  p50/p95/p99/max over ``--queries`` random queries (name prefixes of 1 to 6 letters, "first last"
  prefixes, RPPS numbers, profession and city prefixes), after a warm-up;
* exact address lookup (``queries.national_entry``): p50/p99 over ``--lookups`` random addresses
  (one in ten absent).

    uv run python bench/directory.py [--rows 535000] [--queries 1000] [--lookups 10000] [--json FILE]

Aims: import under 60 s and 500 MB; search p95 under 50 ms. This machine is shared and noisy:
repeat before reading much into one figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from mss.db.migrate import migrate
from mss.devstack.ports import free_port
from mss.devstack.postgres import PostgresConfig, start_postgres, stop_postgres
from mss.directory.national.generate import generate
from mss.directory.national.synthetic import CITIES, FIRST_NAMES, LAST_NAMES, PROFESSIONS

AIMS = {"import_s": 60.0, "import_mb": 500.0, "search_p95_ms": 50.0}
_SECONDS = re.compile(r"wins\), ([0-9.]+) s$", re.MULTILINE)
_PHASE = re.compile(r"^(indexing|switching|cleaning)… \(([0-9.]+) s\)$", re.MULTILINE)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_import(path: Path, url: str, work: Path) -> dict[str, Any]:
    """Wall time, peak RSS (MB) of the importing process, its phases and report, for one CLI import."""
    env = os.environ | {"MSS_DIRECTORY_DATABASE_URL": url}
    out, err = work / "import.out", work / "import.err"
    started = time.monotonic()
    with out.open("w") as stdout, err.open("w") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-m", "mss.directory.national", "import", str(path)],
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
        _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if child.returncode != 0:
        raise SystemExit(f"import failed ({child.returncode}):\n{err.read_text()}")
    phases = {m.group(1): float(m.group(2)) for m in _PHASE.finditer(err.read_text())}
    report = out.read_text().strip()
    found = _SECONDS.search(report)
    importer = float(found.group(1)) if found else wall
    return {
        "import_s": wall,
        "import_peak_mb": usage.ru_maxrss / 1024,
        "load_s": phases.get("indexing", 0.0),
        "index_s": phases.get("switching", 0.0) - phases.get("indexing", 0.0),
        "switch_s": importer - phases.get("switching", 0.0),
        "startup_s": wall - importer,
        "report": report,
    }


def queries(rng: random.Random, count: int, rpps: list[str]) -> list[str]:
    """Random queries of every kind search answers."""
    makers: list[Callable[[], str]] = [
        lambda: rng.choice(LAST_NAMES)[: rng.randint(1, 6)],
        lambda: f"{rng.choice(LAST_NAMES)} {rng.choice(FIRST_NAMES)[: rng.randint(1, 3)]}",
        lambda: f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)[: rng.randint(1, 3)]}",
        lambda: rng.choice(rpps),
        lambda: rng.choice(PROFESSIONS)[1][: rng.randint(3, 8)],
        lambda: rng.choice(CITIES)[1][: rng.randint(2, 6)],
    ]
    return [rng.choice(makers)() for _ in range(count)]


async def timed(call: Callable[[str], Awaitable[Any]], inputs: list[str]) -> tuple[list[float], int]:
    """Latencies (ms) of ``call`` on each input in turn, and how many answers were non-empty."""
    times, found = [], 0
    for item in inputs:
        started = time.perf_counter()
        answer = await call(item)
        times.append((time.perf_counter() - started) * 1000)
        found += bool(answer)
    return times, found


def percentile(times: list[float], share: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def measure_queries(url: str, args: argparse.Namespace) -> dict[str, Any]:
    from mss.directory.national.queries import national_entry, search

    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    assert pool is not None
    rng = random.Random(args.seed)
    try:
        version = await pool.fetchval("SELECT version_id FROM national_current")
        table = f"national_entries_v{int(version)}"
        size = await pool.fetchval(f"SELECT pg_total_relation_size('{table}')")
        rpps = [
            r["rpps"] for r in await pool.fetch(f"SELECT rpps FROM {table} WHERE rpps IS NOT NULL LIMIT 5000")
        ]
        sample = await pool.fetch(
            f"SELECT address FROM {table} TABLESAMPLE SYSTEM (5) LIMIT $1", args.lookups
        )
        addresses = [r["address"] for r in sample]
        lookups = [
            a if rng.random() > 0.1 else f"absent.{n}@nulle-part.mssante.fr" for n, a in enumerate(addresses)
        ]
        rng.shuffle(lookups)
        await timed(lambda q: search(pool, q), queries(rng, 100, rpps))  # warm-up
        search_ms, found = await timed(lambda q: search(pool, q), queries(rng, args.queries, rpps))
        await timed(lambda a: national_entry(pool, a), lookups[:200])  # warm-up
        lookup_ms, present = await timed(lambda a: national_entry(pool, a), lookups)
    finally:
        await pool.close()
    return {
        "table_mb": size / 2**20,
        "search": {
            "queries": len(search_ms),
            "answered": found,
            "p50_ms": percentile(search_ms, 0.50),
            "p95_ms": percentile(search_ms, 0.95),
            "p99_ms": percentile(search_ms, 0.99),
            "max_ms": max(search_ms),
        },
        "lookup": {
            "lookups": len(lookup_ms),
            "found": present,
            "p50_ms": percentile(lookup_ms, 0.50),
            "p99_ms": percentile(lookup_ms, 0.99),
            "max_ms": max(lookup_ms),
        },
    }


def verdict(value: float, aim: float) -> str:
    return "ok" if value < aim else "ABOVE AIM"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=535_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mss-bench-directory-") as folder:
        work = Path(folder)
        config = PostgresConfig(work / "postgres", port=free_port())
        log("starting PostgreSQL…")
        start_postgres(config)
        try:
            asyncio.run(migrate(config.url()))
            log(f"generating {args.rows:,} rows…")
            started = time.monotonic()
            made = generate(work / "extraction.zip", args.rows, seed=args.seed, zipped=True)
            generated_s = time.monotonic() - started
            log(f"importing ({made.path.stat().st_size / 2**20:.1f} MB zip)…")
            imported = run_import(made.path, config.url(), work)
            log(imported["report"])
            log("searching…")
            figures = asyncio.run(measure_queries(config.url(), args))
        finally:
            stop_postgres(config)
    figures |= {
        "rows": args.rows,
        "generate_s": generated_s,
        **imported,
        "bench_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "machine": f"{os.cpu_count()} CPU {platform.machine()}, Python {platform.python_version()}",
        "loadavg": os.getloadavg(),
    }
    s, lk = figures["search"], figures["lookup"]
    print(f"national directory, {args.rows:,} rows ({figures['machine']}, load {figures['loadavg'][0]:.1f})")
    print(f"generate (zip)      {generated_s:8.1f} s")
    import_s, import_mb = figures["import_s"], figures["import_peak_mb"]
    print(
        f"import              {import_s:8.1f} s   [{verdict(import_s, AIMS['import_s'])}: < 60 s]"
        f"   peak RSS {import_mb:.0f} MB [{verdict(import_mb, AIMS['import_mb'])}: < 500 MB]"
        f"   (PostgreSQL apart; the version's table and indexes: {figures['table_mb']:.0f} MB)"
    )
    print(
        f"  read+validate+COPY {figures['load_s']:.1f} s, indexes {figures['index_s']:.1f} s,"
        f" switch {figures['switch_s']:.1f} s, process start-up {figures['startup_s']:.1f} s"
    )
    print(
        f"search  x{s['queries']:<6}   p50 {s['p50_ms']:6.2f} ms   p95 {s['p95_ms']:6.2f} ms"
        f" [{verdict(s['p95_ms'], AIMS['search_p95_ms'])}: < 50 ms]   p99 {s['p99_ms']:6.2f} ms"
        f"   max {s['max_ms']:6.1f} ms   ({s['answered']} answered)"
    )
    print(
        f"lookup  x{lk['lookups']:<6}   p50 {lk['p50_ms']:6.2f} ms   p99 {lk['p99_ms']:6.2f} ms"
        f"   max {lk['max_ms']:6.1f} ms   ({lk['found']} found)"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
