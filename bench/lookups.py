"""Latency of the request/reply paths under concurrent load, against a NATS echo in the same run.

A private backbone (the six services as processes, nats-server, PostgreSQL, the demo GHT plus
``--mailboxes`` more mailboxes) is started in a temp folder; then, for each path and each number
of concurrent requesters in ``--concurrency`` (1 and 32), ``--requests`` requests are sent and
each round trip is timed:

* ``echo``       a bare responder process on the same nats-server: the floor of a NATS round trip;
* ``directory``  ``mss.v1.directory.lookup`` of random existing mailboxes (PostgreSQL each time);
* ``rcpt``       ``mss.v1.policy.rcpt_check`` of random mailboxes (policy → directory, policy cache);
* ``rcpt-cold``  the same with addresses never asked before (every verdict asks the directory).

Figures: p50, p99, max (ms) and requests/s, and each path's p50/p99 as a ratio of the echo's
(this machine is shared and noisy: compare ratios between runs, not absolute times).

    uv run python bench/lookups.py [--requests 20000] [--concurrency 1,32] [--mailboxes 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import nats
from mss.bus import subjects
from mss.bus.codec import decode, encode
from mss.devstack.layout import Layout
from mss.devstack.stack import Stack
from mss.testing.fixtures import connect_as, demo_seed
from mss.v1 import AddressLookupReply, AddressLookupRequest, Listener, RecipientCheckRequest

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "deploy" / "demo"
ECHO = "bench.echo"
ECHO_SERVER = """
import asyncio, sys, nats
from pathlib import Path
from mss.bus.connection import client_options
async def main():
    nc = await nats.connect(sys.argv[1], **client_options("harness", Path(sys.argv[2]), Path(sys.argv[3])))
    async def echo(msg):
        await msg.respond(msg.data)
    await nc.subscribe("bench.echo", cb=echo)
    await nc.flush()
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


async def add_mailboxes(url: str, count: int) -> list[str]:
    """``count`` personal mailboxes in the demo SaaS domain (one COPY)."""
    addresses = [f"bench.{n:06d}@chu-demo.mssante.fr" for n in range(count)]
    conn = await asyncpg.connect(url)
    try:
        await conn.copy_records_to_table(
            "mailboxes",
            records=[(a, "chu-demo", "chu-demo.mssante.fr", "PER") for a in addresses],
            columns=["address", "tenant_id", "domain", "type"],
        )
        await conn.execute("UPDATE directory_meta SET version = version + 1")  # the directory reloads
    finally:
        await conn.close()
    return addresses


async def until_known(client: nats.NATS, address: str, timeout: float = 30.0) -> None:
    """Wait until the directory's in-memory registry has the added mailboxes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = await client.request(subjects.DIRECTORY_LOOKUP, encode(AddressLookupRequest(address=address)))
        if decode(AddressLookupReply, reply.data).mailbox_found:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the directory did not load {address} within {timeout} s")


async def load(
    client: nats.NATS, subject: str, payloads: Callable[[int], bytes], requests: int, concurrency: int
) -> tuple[list[float], float]:
    """Round-trip times (s) of ``requests`` requests from ``concurrency`` requesters, and wall time."""
    times: list[float] = []
    counter = iter(range(requests))

    async def requester() -> None:
        for n in counter:
            data = payloads(n)
            start = time.perf_counter()
            await client.request(subject, data, timeout=10)
            times.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(requester() for _ in range(concurrency)))
    return times, time.perf_counter() - began


def figures(times: list[float], wall: float) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[int(len(ordered) * 0.99) - 1] * 1000,
        "max": ordered[-1] * 1000,
        "rps": len(ordered) / wall,
    }


async def measure(stack: Stack, url: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    rng = random.Random(7)
    addresses = await add_mailboxes(url, args.mailboxes)
    cold = iter(addresses * 2)
    client = await connect_as(stack.nats)  # the tests' observer identity: it may ask anything
    results: dict[str, dict[str, float]] = {}
    try:
        await until_known(client, addresses[-1])

        def lookup(_: int) -> bytes:
            return encode(AddressLookupRequest(address=rng.choice(addresses)))

        def rcpt(address: str) -> bytes:
            return encode(
                RecipientCheckRequest(
                    message_id="BENCH",
                    mail_from="contact@autre-operateur.mssante.fr",
                    recipient=address,
                    client_address="127.0.0.1",
                    listener=Listener.LISTENER_PEER,
                )
            )

        paths: list[tuple[str, str, Callable[[int], bytes]]] = [
            ("echo", ECHO, lambda n: b"x" * 64),
            ("directory", subjects.DIRECTORY_LOOKUP, lookup),
            ("rcpt", subjects.RCPT_CHECK, lambda n: rcpt(rng.choice(addresses[:1000]))),
            ("rcpt-cold", subjects.RCPT_CHECK, lambda n: rcpt(next(cold))),
        ]
        for concurrency in args.concurrency:
            for name, subject, payloads in paths:
                fresh = name == "rcpt-cold"
                count = args.requests
                if fresh:
                    count = min(count, args.mailboxes // len(args.concurrency))
                if not fresh:
                    await load(client, subject, payloads, min(500, count), concurrency)  # warm-up
                times, wall = await load(client, subject, payloads, count, concurrency)
                results[f"{name} x{concurrency}"] = figures(times, wall)
                print(f"  measured {name} with {concurrency} requester(s)", file=sys.stderr)
    finally:
        await client.close()
    return results


def report(results: dict[str, dict[str, float]], args: argparse.Namespace) -> str:
    lines = [
        f"request/reply latency, {args.requests} requests per path, {args.mailboxes} extra mailboxes",
        f"{'path x requesters':<18} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'req/s':>9}"
        f" {'p50/echo':>9} {'p99/echo':>9}",
    ]
    for name, f in results.items():
        echo = results["echo x" + name.rsplit(" x", 1)[1]]
        lines.append(
            f"{name:<18} {f['p50']:>8.2f} {f['p99']:>8.2f} {f['max']:>8.1f} {f['rps']:>9.0f}"
            f" {f['p50'] / echo['p50']:>9.1f} {f['p99'] / echo['p99']:>9.1f}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument(
        "--concurrency", type=lambda t: [int(n) for n in t.split(",")], default=[1, 32], help="e.g. 1,32"
    )
    parser.add_argument("--mailboxes", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mss-bench-lookups-") as folder:
        work = Path(folder)
        layout = Layout.free(work / "mss", DEMO / "listeblanchemssante.xml")
        stack = Stack(layout, demo_seed(layout, work), demo_mail_servers=False, harness=True)
        echo = None
        try:
            print("starting a private backbone…", file=sys.stderr)
            stack.up()
            echo = subprocess.Popen(
                [sys.executable, "-c", ECHO_SERVER, *stack.nats.client_settings("harness").values()],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert echo.stdout is not None
            assert echo.stdout.readline().strip() == "ready"
            results = asyncio.run(measure(stack, stack.postgres.url(), args))
        finally:
            if echo is not None:
                echo.terminate()
                echo.wait()
            stack.down()
    print(report(results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
