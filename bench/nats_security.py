"""What TLS and per-component authorisation cost on the bus, against the same server without them.

Two nats-servers run side by side on loopback with the same JetStream settings: one as mss runs it
(TLS only, one nkey per component, permissions from the subject catalogue), one open (no TLS, no
authentication: the reference). Runs alternate between them, ``--repeat`` times each, and the
figures are medians; the secured figures are printed as ratios of the open ones (this machine is
shared and noisy: compare ratios, not absolute rates).

* ``publish 10 KB`` / ``publish 1 MB``: ingress storing bodies in ``MSS_BLOBS``, each publish
  awaiting its JetStream acknowledgement, ``--concurrency`` publishers at once;
* ``request``: ingress asking ``mss.v1.policy.rcpt_check``, answered at once by a policy client.

    uv run python bench/nats_security.py [--repeat 3] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats
from mss.bus import identities as who
from mss.bus import streams, subjects
from mss.devstack.nats import NatsConfig, nats_server_binary, start_nats
from mss.devstack.ports import free_port, wait_listening
from mss.testing.fixtures import connect_as
from nats.aio.client import Client as NATS

WORKLOADS = {"publish 10 KB": (10_000, 3000), "publish 1 MB": (1_000_000, 150), "request": (200, 5000)}
"""Payload size and count of each workload."""


def open_server(folder: Path) -> tuple[str, Any]:
    """The reference: the same JetStream settings, no TLS, no authentication."""
    folder.mkdir(parents=True)
    port = free_port()
    conf = folder / "nats.conf"
    conf.write_text(
        f'listen: 127.0.0.1:{port}\nmax_payload: 33554432\njetstream {{ store_dir: "{folder}/js" }}\n'
    )
    process = subprocess.Popen(
        [nats_server_binary(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    wait_listening("127.0.0.1", port, 20, "nats-server", alive=lambda: process.poll() is None)
    return f"nats://127.0.0.1:{port}", process


async def run(asker: NATS, answerer: NATS, workload: str, concurrency: int) -> float:
    """Operations per second of one workload."""
    size, count = WORKLOADS[workload]
    payload = b"x" * size
    js = asker.jetstream()
    if workload == "request":

        async def answer(msg: nats.aio.msg.Msg) -> None:
            await msg.respond(b"ok")

        subscription = await answerer.subscribe(subjects.RCPT_CHECK, queue=who.POLICY, cb=answer)
        await answerer.flush()
    left = iter(range(count))

    async def worker() -> None:
        for n in left:
            if workload == "request":
                await asker.request(subjects.RCPT_CHECK, payload, timeout=10)
            else:
                await js.publish(subjects.blob(f"b{time.monotonic_ns()}{n}"), payload, timeout=10)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    rate = count / (time.perf_counter() - started)
    if workload == "request":
        await subscription.unsubscribe()
    return rate


async def measure(
    args: argparse.Namespace, secured: NatsConfig, open_url: str
) -> dict[str, dict[str, float]]:
    clients = {
        "secured": (await connect_as(secured, who.INGRESS), await connect_as(secured, who.POLICY)),
        "open": (await nats.connect(open_url), await nats.connect(open_url)),
    }
    owner = await connect_as(secured, who.INGRESS)
    await streams.ensure_stream(owner.jetstream(), streams.BLOBS)
    await streams.ensure_stream(clients["open"][0].jetstream(), streams.BLOBS)
    rates: dict[str, dict[str, list[float]]] = {w: {"secured": [], "open": []} for w in WORKLOADS}
    try:
        for _ in range(args.repeat):
            for workload in WORKLOADS:
                for side in ("open", "secured"):  # alternate, so drift hits both alike
                    asker, answerer = clients[side]
                    rates[workload][side].append(await run(asker, answerer, workload, args.concurrency))
    finally:
        for asker, answerer in clients.values():
            await asker.close()
            await answerer.close()
        await owner.close()
    return {
        w: {side: statistics.median(values) for side, values in by_side.items()}
        for w, by_side in rates.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/nats_security.py")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mss-bench-nats-") as folder:
        config = NatsConfig(Path(folder) / "secured", port=free_port(), sync_always=False)
        secured = start_nats(config)
        open_url, reference = open_server(Path(folder) / "open")
        try:
            figures = asyncio.run(measure(args, config, open_url))
        finally:
            for process in (secured, reference):
                process.terminate()
                process.wait(timeout=30)
    print(f"NATS with TLS and permissions, against the same server open (medians of {args.repeat}):")
    for workload, by_side in figures.items():
        ratio = by_side["secured"] / by_side["open"]
        secured, reference = by_side["secured"], by_side["open"]
        print(f"  {workload:14}  secured {secured:8.0f}/s   open {reference:8.0f}/s   x{ratio:.2f}")


if __name__ == "__main__":
    sys.exit(main())
