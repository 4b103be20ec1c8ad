"""SMTP relay throughput bench: reference paths and the system under test, in one invocation.

Every figure of an invocation is measured back to back on the same machine, so compare them as
ratios (this machine is shared and noisy; absolute msg/s move between invocations).

Paths (each fed once by ``smtp-source`` and once by the asyncio driver, for each message size):

* ``sink``    load generator -> smtp-sink: the ceiling of the generator + sink pair.
* ``postfix`` load generator -> throwaway Postfix (own config/queue under a temp folder,
  smtpd on a free loopback port, relayhost = the sink) -> smtp-sink: the reference relay.
* ``target``  load generator -> ``--target HOST:PORT`` -> smtp-sink. The target must relay to
  the sink, so pass ``--target-sink-port PORT``: the sink then listens on 127.0.0.1:PORT and
  Postfix relays there too. Without ``--target`` this path is skipped.

Figures: accepted msg/s (messages / load-generator wall time), delivered msg/s (messages / time
until the sink has counted them all), p50/p99 accept latency (driver only: MAIL FROM to the
reply after the final dot). With ``--repeat N`` each figure is the median of N runs.

Usage (as root; installs the Debian ``postfix`` package if needed)::

    task bench                      # = python bench/run.py --mss: a private mss backbone as target
    python bench/run.py --quick
    python bench/run.py --target 127.0.0.1:2525 --target-sink-port 2626 --repeat 3 \\
        --json bench-results.json
    python bench/run.py --sizes 10k --messages 10k=5000 --sessions 50 --tools driver

Exit status: 0 when every run completed, 1 on a failed run (the error says which), 2 on bad
options, 130 on Ctrl-C, 143 on SIGTERM. Everything started is stopped and the temp folder is
removed in every case (``--keep`` keeps the folder, with the Postfix maillog, for debugging).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from common import BenchError, free_port, parse_hostport, wait_for_port
from install import PostfixTools, ensure_tools
from message import parse_size, size_label, write_message
from postfix import PostfixInstance
from report import format_ratios, format_table, ratios, summarize, write_json
from runners import TOOL_DRIVER, TOOL_SOURCE, Load, RunResult, measure
from sink import SmtpSink

HOST = "127.0.0.1"
ALL_PATHS = ("sink", "postfix", "target")
ALL_TOOLS = (TOOL_SOURCE, TOOL_DRIVER)
QUICK_DIVISOR = 5


# -- options ----------------------------------------------------------------------------------
def default_count(size: int) -> int:
    """~200 MiB per run, between 50 and 2000 messages: 2000 x 10 KB, 200 x 1 MB."""
    return max(50, min(2000, (200 << 20) // size))


def parse_counts(spec: str | None, sizes: list[int], quick: bool) -> dict[int, int]:
    """``--messages``: ``N`` for every size, or ``SIZE=N,...`` (e.g. ``10k=2000,1m=200``)."""
    counts = {size: default_count(size) for size in sizes}
    if quick:
        counts = {size: max(20, n // QUICK_DIVISOR) for size, n in counts.items()}
    if spec:
        for item in spec.split(","):
            size_text, sep, count = item.rpartition("=")
            if not count.isdigit() or int(count) <= 0:
                raise BenchError(f"bad --messages item {item!r}")
            targets = [parse_size(size_text)] if sep else sizes
            for size in targets:
                counts[size] = int(count)
    return {size: counts[size] for size in sizes}


def _param(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise BenchError(f"--postfix-param expects NAME=VALUE, got {item!r}")
    return name.strip(), value.strip()


def _csv(choices: tuple[str, ...]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"choose from {','.join(choices)}")
        return items

    return parse


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", metavar="HOST:PORT", help="SMTP server under test")
    p.add_argument(
        "--mss",
        action="store_true",
        help="start a private mss backbone (free ports, temp folder) relaying to the sink, as the target",
    )
    p.add_argument(
        "--target-sink-port",
        type=int,
        metavar="PORT",
        help="port the target relays to: the sink listens on 127.0.0.1:PORT",
    )
    p.add_argument("--sessions", type=int, default=20, help="concurrent sessions (20)")
    p.add_argument("--sizes", default="10k,1m", help="message sizes (10k,1m)")
    p.add_argument(
        "--messages", metavar="SPEC", help="messages per run: N, or SIZE=N,... (default 10k=2000,1m=200)"
    )
    p.add_argument(
        "--quick", action="store_true", help=f"short run: default counts / {QUICK_DIVISOR}, smaller warm-up"
    )
    p.add_argument("--repeat", type=int, default=1, help="runs per figure; medians (1)")
    p.add_argument(
        "--paths", type=_csv(ALL_PATHS), default=list(ALL_PATHS), help="subset of sink,postfix,target (all)"
    )
    p.add_argument(
        "--tools", type=_csv(ALL_TOOLS), default=list(ALL_TOOLS), help="subset of smtp-source,driver (both)"
    )
    p.add_argument("--from", dest="sender", default="bench@chu-demo.mssante.fr")
    p.add_argument("--to", dest="recipient", default="user@autre-operateur.mssante.fr")
    p.add_argument("--warmup", type=int, help="untimed messages per path first (2 x sessions)")
    p.add_argument("--process-limit", type=int, default=100, help="Postfix default_process_limit")
    p.add_argument(
        "--postfix-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra main.cf line for the reference Postfix (repeatable), e.g. in_flow_delay=0",
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="write raw figures as JSON")
    p.add_argument("--workdir", type=Path, help="parent of the temp folder (system temp)")
    p.add_argument("--keep", action="store_true", help="keep the temp folder (debugging)")
    p.add_argument("--no-install", action="store_true", help="never apt-get install postfix")
    p.add_argument("--start-timeout", type=float, default=60.0)
    p.add_argument("--run-timeout", type=float, default=600.0, help="per load run, seconds")
    p.add_argument(
        "--deliver-timeout", type=float, default=300.0, help="wait for the sink count after a run, seconds"
    )
    p.add_argument("--smtp-timeout", type=float, default=60.0, help="driver per SMTP step")
    args = p.parse_args(argv)
    if args.sessions < 1 or args.repeat < 1:
        p.error("--sessions and --repeat must be >= 1")
    if args.target_sink_port is not None and not args.target:
        p.error("--target-sink-port only makes sense with --target")
    if args.mss and args.target:
        p.error("--mss starts its own target: do not give --target")
    try:
        args.size_list = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
        args.count_map = parse_counts(args.messages, args.size_list, args.quick)
        if args.target:
            parse_hostport(args.target)
        args.postfix_params = dict(_param(item) for item in args.postfix_param)
    except (ValueError, BenchError) as exc:
        p.error(str(exc))
    if not args.size_list:
        p.error("--sizes is empty")
    return args


# -- process hygiene -------------------------------------------------------------------------
def become_subreaper() -> None:
    """Adopt orphans (the daemonized Postfix master and its children) to reap them ourselves.

    PID 1 in some containers never reaps, so stopped Postfix processes would stay zombies.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def reap_children(timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    log("bench: terminated, cleaning up")
    raise SystemExit(128 + signum)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the bench --------------------------------------------------------------------------------
class Bench:
    """Holds the sink, the endpoints and the options for one invocation."""

    def __init__(self, args: argparse.Namespace, tools: PostfixTools, work: Path) -> None:
        self.args = args
        self.tools = tools
        self.work = work
        self.sizes: list[int] = args.size_list
        self.counts: dict[int, int] = args.count_map
        self.files: dict[int, tuple[Path, int]] = {}
        self.endpoints: dict[str, tuple[str, int]] = {}
        self.count_delivery: dict[str, bool] = {}
        self.sink: SmtpSink | None = None
        self.postfix: PostfixInstance | None = None
        self.target_tls: tuple[Path, Path, Path] | None = None
        """STARTTLS identity for the target (mss requires mutual TLS); smtp-source cannot do it."""

    def prepare_messages(self) -> None:
        for size in self.sizes:
            path = self.work / f"message-{size_label(size)}.eml"
            wire = write_message(path, size, self.args.sender, self.args.recipient)
            self.files[size] = (path, wire)

    def start_sink(self, stack: contextlib.ExitStack) -> SmtpSink:
        port = self.args.target_sink_port or free_port()
        sink = SmtpSink(
            self.tools.smtp_sink,
            HOST,
            port,
            max_connections=max(256, 4 * self.args.sessions + 64),
            log_path=self.work / "smtp-sink.log",
        )
        stack.callback(sink.stop)
        sink.start(self.args.start_timeout)
        log(f"sink: smtp-sink -c on {HOST}:{port}")
        self.sink = sink
        if "sink" in self.args.paths:
            self.endpoints["sink"] = (HOST, port)
            self.count_delivery["sink"] = True
        return sink

    def start_postfix(self, stack: contextlib.ExitStack, sink_port: int) -> None:
        if "postfix" not in self.args.paths:
            return
        port = free_port()
        instance = PostfixInstance(
            self.tools,
            self.work / "postfix",
            port,
            sink_port,
            self.args.process_limit,
            self.args.postfix_params,
        )
        stack.callback(instance.stop)
        instance.start(self.args.start_timeout)
        log(f"postfix: instance in {instance.root} on {HOST}:{port} -> [{HOST}]:{sink_port}")
        self.endpoints["postfix"] = (HOST, port)
        self.count_delivery["postfix"] = True
        self.postfix = instance

    def add_target(self) -> None:
        if "target" not in self.args.paths:
            return
        if not self.args.target:
            log("target: no --target given, skipping the system under test")
            return
        host, port = parse_hostport(self.args.target)
        wait_for_port(host, port, self.args.start_timeout, f"target {self.args.target}")
        self.endpoints["target"] = (host, port)
        self.count_delivery["target"] = self.args.target_sink_port is not None
        if not self.count_delivery["target"]:
            log("target: no --target-sink-port, delivered msg/s not measured for the target")

    def load(self, path: str, tool: str, size: int, messages: int) -> Load:
        host, port = self.endpoints[path]
        return Load(
            host=host,
            port=port,
            tool=tool,
            message_file=self.files[size][0],
            sessions=self.args.sessions,
            messages=messages,
            sender=self.args.sender,
            recipient=self.args.recipient,
            run_timeout=self.args.run_timeout,
            deliver_timeout=self.args.deliver_timeout,
            smtp_timeout=self.args.smtp_timeout,
            tls=self.target_tls if path == "target" else None,
        )

    def run_one(self, path: str, tool: str, size: int, messages: int, repeat: int) -> RunResult:
        assert self.sink is not None
        try:
            return measure(
                self.load(path, tool, size, messages),
                self.sink,
                self.tools.smtp_source,
                path,
                size_label(size),
                self.files[size][1],
                repeat,
                count_delivery=self.count_delivery[path],
            )
        except BenchError as exc:
            hint = ""
            if path == "postfix" and self.postfix is not None:
                hint = (
                    f"\n  postfix queue: {self.postfix.queued()} message(s); maillog tail:\n"
                    + self.postfix.log_tail()
                )
            elif path == "target" and self.count_delivery[path]:
                hint = f"\n  is the target relaying to {HOST}:{self.args.target_sink_port}?"
            raise BenchError(f"{path}/{tool}/{size_label(size)}: {exc}{hint}") from exc

    def warm_up(self) -> None:
        size = min(self.sizes)
        count = self.args.warmup
        if count is None:
            count = self.args.sessions * (1 if self.args.quick else 2)
        if count <= 0:
            return
        for path in self.endpoints:
            tool = TOOL_DRIVER if path == "target" and self.target_tls is not None else TOOL_SOURCE
            log(f"warm-up: {count} x {size_label(size)} via {tool} -> {path}")
            self.run_one(path, tool, size, count, repeat=-1)

    def run_all(self) -> list[RunResult]:
        runs: list[RunResult] = []
        plan = [
            (path, tool)
            for path in self.endpoints
            for tool in self.args.tools
            if not (path == "target" and tool == TOOL_SOURCE and self.target_tls is not None)
        ]
        total = self.args.repeat * len(self.sizes) * len(plan)
        for repeat in range(self.args.repeat):
            for size in self.sizes:
                for path, tool in plan:
                    run = self.run_one(path, tool, size, self.counts[size], repeat)
                    runs.append(run)
                    log(f"[{len(runs)}/{total}] {progress_line(run)}")
        return runs


def progress_line(run: RunResult) -> str:
    text = f"{run.path:<8}{run.tool:<12}{run.size:>5} {run.messages} msgs: accepted {run.accepted_rate:.1f}/s"
    if run.delivered_rate is not None:
        text += f", delivered {run.delivered_rate:.1f}/s"
    if run.p50_ms is not None and run.p99_ms is not None:
        text += f", p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms"
    return text


def meta(
    args: argparse.Namespace, tools: PostfixTools, bench: Bench, load_before: tuple[float, float, float]
) -> dict[str, object]:
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "postfix_version": tools.version(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "argv": sys.argv[1:],
        "target": args.target,
        "sessions": args.sessions,
        "postfix_process_limit": args.process_limit,
        "postfix_params": args.postfix_params,
        "sink_port": bench.sink.port if bench.sink else None,
        "counts": {size_label(s): n for s, n in bench.counts.items()},
        "message_wire_bytes": {size_label(s): f[1] for s, f in bench.files.items()},
    }


def execute(args: argparse.Namespace) -> int:
    tools = ensure_tools(auto_install=not args.no_install)
    load_before = os.getloadavg()
    with contextlib.ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="smtp-bench-", dir=args.workdir))
        work.chmod(0o755)  # the postfix user must reach its data_directory inside
        if args.keep:
            log(f"workdir kept: {work}")
        else:
            stack.callback(shutil.rmtree, work, ignore_errors=True)
        bench = Bench(args, tools, work)
        bench.prepare_messages()
        sink = bench.start_sink(stack)
        if args.mss:
            from backbone import RECIPIENT, SENDER, private_backbone

            log("mss: starting a private backbone")
            target = stack.enter_context(private_backbone(work, sink.port))
            args.target, args.target_sink_port, bench.target_tls = target.address, sink.port, target.tls
            args.sender, args.recipient = SENDER, RECIPIENT
        bench.start_postfix(stack, sink.port)
        bench.add_target()
        if not bench.endpoints:
            raise BenchError("nothing to measure (check --paths)")
        bench.warm_up()
        runs = bench.run_all()
    rows = summarize(runs)
    ratio_items = ratios(rows)
    info = meta(args, tools, bench, load_before)
    print(
        f"\nSMTP bench, {info['cpus']} CPUs, load avg {load_before[0]:.2f} -> "
        f"{os.getloadavg()[0]:.2f} (shared machine: compare ratios, not absolutes)\n"
    )
    print(format_table(rows))
    if ratio_items:
        print()
        print(format_ratios(ratio_items))
    if args.json:
        write_json(args.json, info, runs, rows, ratio_items)
        log(f"\nraw figures written to {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    become_subreaper()
    try:
        return execute(args)
    except BenchError as exc:
        log(f"bench: error: {exc}")
        return 1
    except KeyboardInterrupt:
        log("bench: interrupted, cleaned up")
        return 130
    finally:
        reap_children()


if __name__ == "__main__":
    sys.exit(main())
