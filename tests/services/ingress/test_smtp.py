"""Tests for ``mss.ingress.smtp``: FastSMTP must behave exactly like aiosmtpd's SMTP.

Everything runs over real TCP on 127.0.0.1. Byte-exact cases use raw asyncio streams;
normal use goes through aiosmtplib and smtplib. To make the server see the client's
writes as separate reads (awkward splits), the server protocols count the bytes they
receive and the client waits for each write to have been received before sending the
next one; that is synchronisation on an event, never on a sleep.
Most behavioural tests run against both implementations ("stock" documents that the
expectation is aiosmtpd's own behaviour), and a differential test compares them on
many tricky inputs.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import inspect
import itertools
import random
import smtplib
import socket
import types
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd import smtp as aiosmtpd_smtp
from aiosmtpd.smtp import SMTP, Envelope, _DataState
from mss.ingress.smtp import FastController, FastSMTP, _Body, serve

IMPLS = {"stock": SMTP, "fast": FastSMTP}
CRLF = b"\r\n"
TIMEOUT = 20  # seconds; only a guard against hanging on a bug, never a synchronisation


class Recorder:
    """Handler keeping every envelope that reached handle_DATA."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    @property
    def contents(self) -> list[Any]:
        return [e.content for e in self.envelopes]


class _Paced:
    """Mixin for server protocols: counts received bytes and signals progress.

    Every write then reaches the protocol as its own ``data_received``, and the session
    task, woken inside ``super()`` before the client waiting on ``progress``, looks at
    the bytes before the client sends the next write.
    """

    received: int
    progress: asyncio.Event

    def connection_made(self, transport: Any) -> None:
        self.received = 0
        self.progress = asyncio.Event()
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self.received += len(data)
        self.progress.set()

    def connection_lost(self, exc: BaseException | None) -> None:
        super().connection_lost(exc)
        self.progress.set()


@dataclass
class Server:
    port: int
    handler: Recorder
    protocols: list[Any] = field(default_factory=list)


@contextlib.asynccontextmanager
async def smtp_server(
    impl: str, *, line_length_limit: int | None = None, **kwargs: Any
) -> AsyncIterator[Server]:
    """Serve ``impl`` (a paced subclass) on 127.0.0.1:0 with a fresh Recorder."""
    attrs = {} if line_length_limit is None else {"line_length_limit": line_length_limit}
    cls = type(f"Paced{impl}", (_Paced, IMPLS[impl]), attrs)
    handler = Recorder()
    info = Server(0, handler)

    def factory() -> Any:
        proto = cls(handler, hostname="mx.test", **kwargs)
        info.protocols.append(proto)
        return proto

    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    info.port = server.sockets[0].getsockname()[1]
    try:
        yield info
    finally:
        server.close()
        await server.wait_closed()


class RawClient:
    """Byte-exact SMTP client on asyncio streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.sent = 0
        self.proto: Any = None

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, server: Server) -> AsyncIterator[RawClient]:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        client = cls(reader, writer)
        try:
            assert (await client.reply()).startswith(b"220 ")
            client.proto = server.protocols[-1]  # created before it sent the greeting
            yield client
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def reply(self) -> bytes:
        async with asyncio.timeout(TIMEOUT):  # fail, rather than hang, on a lost reply
            lines = [await self.reader.readuntil(CRLF)]
            while lines[-1][3:4] == b"-":
                lines.append(await self.reader.readuntil(CRLF))
        return b"".join(lines)

    async def replies(self, n: int) -> list[bytes]:
        return [await self.reply() for _ in range(n)]

    def write(self, data: bytes) -> None:
        self.writer.write(data)
        self.sent += len(data)

    async def cmd(self, line: bytes) -> bytes:
        self.write(line + CRLF)
        return await self.reply()

    async def send_paced(self, pieces: Sequence[bytes]) -> None:
        """Write pieces one by one, each only once the server has received the previous."""
        for piece in pieces:
            if self.proto.transport is None:
                return
            self.write(piece)
            async with asyncio.timeout(TIMEOUT):
                while self.proto.received < self.sent and self.proto.transport is not None:
                    self.proto.progress.clear()
                    await self.proto.progress.wait()

    async def begin_data(self) -> None:
        for line, code in ((b"HELO c.test", b"250"), (b"MAIL FROM:<a@x.test>", b"250")):
            assert (await self.cmd(line)).startswith(code)
        assert (await self.cmd(b"RCPT TO:<b@y.test>")).startswith(b"250")
        assert (await self.cmd(b"DATA")).startswith(b"354")

    async def read_to_eof(self) -> bytes:
        out = b""
        try:
            while chunk := await self.reader.read(65536):
                out += chunk
        except ConnectionResetError:
            out += b"<RST>"
        return out


def pieces_of(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(data)}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


async def run_body(impl: str, wire: bytes, cuts: Sequence[int] = (), **kw: Any) -> tuple:
    """Send one DATA section (``wire`` includes the terminator) then NOOP; return
    (DATA reply, NOOP reply, handler contents, original contents)."""
    async with smtp_server(impl, **kw) as srv, RawClient.connect(srv) as c:
        await c.begin_data()
        await c.send_paced(pieces_of(wire, cuts))
        data_reply = await c.reply()
        noop = await c.cmd(b"NOOP")
        return data_reply, noop, srv.handler.contents, [e.original_content for e in srv.handler.envelopes]


both = pytest.mark.parametrize("impl", ["stock", "fast"])


# --- byte-exact behaviour ---------------------------------------------------------------

TRANSPARENCY_CASES = {
    "stuffed lines": (
        b"..x\r\n.a\r\n..\r\na.\r\n...\r\nplain\r\n.\r\n",
        b".x\r\na\r\n.\r\na.\r\n..\r\nplain\r\n",
    ),
    "first line ..x": (b"..x\r\n.\r\n", b".x\r\n"),
    "first line .": (b".y\r\n.\r\n", b"y\r\n"),
    "dot inside line": (b"a.\r\nb.c\r\n.\r\n", b"a.\r\nb.c\r\n"),
    "empty body": (b".\r\n", b""),
    "one empty line": (b"\r\n.\r\n", b"\r\n"),
    "no CRLF before dot": (b"abc.\r\n.\r\n", b"abc.\r\n"),
    "bare LF is data": (b"a\n.\r\nb\n..c\r\n.\r\n", b"a\n.\r\nb\n..c\r\n"),
    "bare CR is data": (b"x\r.\r\n\r..\r\n.\r\n", b"x\r.\r\n\r..\r\n"),
    "8-bit": (b"\xff\x00\xe9\r\n..\x80\r\n.\r\n", b"\xff\x00\xe9\r\n.\x80\r\n"),
}


@both
@pytest.mark.parametrize("case", list(TRANSPARENCY_CASES))
async def test_transparency_byte_exact(impl: str, case: str) -> None:
    wire, expected = TRANSPARENCY_CASES[case]
    data_reply, noop, contents, originals = await run_body(impl, wire)
    assert data_reply == b"250 OK\r\n"
    assert noop.startswith(b"250")
    assert contents == [expected]
    assert originals == [expected]
    assert type(contents[0]) is bytes


@both
async def test_every_split_of_a_tricky_body(impl: str) -> None:
    wire = b"..a\r\n.\r\r\n..\r\nb.\r\n\r\n.x\r\n.\r\n"
    expected = b".a\r\n\r\r\n.\r\nb.\r\n\r\nx\r\n"
    for cut in range(1, len(wire)):
        data_reply, _, contents, _ = await run_body(impl, wire, [cut, cut + 1, cut + 3])
        assert (data_reply, contents) == (b"250 OK\r\n", [expected]), cut


def _big_8bit_body(rng: random.Random, size: int) -> tuple[bytes, bytes]:
    """(unstuffed content, stuffed wire bytes without terminator) of about ``size``."""
    alphabet = bytes(b for b in range(256) if b not in b"\r\n")
    lines: list[bytes] = []
    total = 0
    while total < size:
        kind = rng.random()
        if kind < 0.1:
            line = b"." + bytes(rng.choices(alphabet, k=rng.randint(0, 997)))
        elif kind < 0.15:
            line = rng.choice([b".", b"..", b""])
        elif kind < 0.2:
            line = b"x" * 999  # longest line aiosmtpd accepts: 1001 bytes with CRLF
        else:
            line = bytes(rng.choices(alphabet, k=rng.randint(0, 999)))
            if rng.random() < 0.1:  # a bare LF / lone CR inside a line
                line = line[:5] + rng.choice([b"\n", b"\r", b"\n."]) + line[5:][:990]
            if line.startswith(b"."):  # stuffing adds one byte
                line = line[:998]
        lines.append(line)
        total += len(line) + 2
    lines.append(b"." + b"y" * 997)  # stuffed: exactly 1001 bytes with CRLF
    content = b"".join(line + CRLF for line in lines)
    wire = b"".join((b"." + line if line.startswith(b".") else line) + CRLF for line in lines)
    return content, wire


@both
async def test_1mb_8bit_long_lines_awkward_splits(impl: str) -> None:
    rng = random.Random(1234)
    content, body = _big_8bit_body(rng, 1_000_000)
    wire = body + b".\r\n"
    cuts: list[int] = []
    pos = 0
    while pos < len(wire):  # many small writes
        pos += rng.randint(1, 4096)
        cuts.append(pos)
    start = 0
    for _ in range(40):  # split inside "\r\n.." at every position
        i = wire.find(b"\r\n..", start)
        if i < 0:
            break
        cuts.append(i + rng.randint(1, 3))
        start = i + 1
    end = len(wire) - 5  # the terminator CRLF.CRLF one byte per write
    cuts += range(end, len(wire))
    assert len(content) >= 1_000_000
    data_reply, noop, contents, originals = await run_body(impl, wire, cuts)
    assert data_reply == b"250 OK\r\n"
    assert noop.startswith(b"250")
    assert contents == [content]
    assert originals == [content]


@both
async def test_pipelined_transactions_and_quit(impl: str) -> None:
    one = b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n"
    stream = one + b"first\r\n..\r\n.\r\n" + one + b".\r\n" + one + b"third\r\n.\r\nQUIT\r\n"
    async with smtp_server(impl) as srv, RawClient.connect(srv) as c:
        assert (await c.cmd(b"EHLO c.test")).startswith(b"250-mx.test")
        c.write(stream)  # everything at once: the server must keep what follows each dot
        assert (
            await c.replies(4 * 3)
            == [b"250 OK\r\n", b"250 OK\r\n", b"354 End data with <CR><LF>.<CR><LF>\r\n", b"250 OK\r\n"] * 3
        )
        assert (await c.reply()).startswith(b"221")
        assert await c.read_to_eof() == b""
    assert srv.handler.contents == [b"first\r\n.\r\n", b"", b"third\r\n"]


@both
@pytest.mark.parametrize("split", [False, True])
async def test_quit_pipelined_right_after_the_dot(impl: str, split: bool) -> None:
    async with smtp_server(impl) as srv, RawClient.connect(srv) as c:
        await c.begin_data()
        if split:
            await c.send_paced([b"hello\r", b"\n", b".\r\nQUIT\r\n"])
        else:
            c.write(b"hello\r\n.\r\nQUIT\r\n")
        assert await c.replies(2) == [b"250 OK\r\n", b"221 Bye\r\n"]
        assert await c.read_to_eof() == b""
    assert srv.handler.contents == [b"hello\r\n"]


@both
async def test_size_limit_counts_raw_stuffed_bytes(impl: str) -> None:
    async with smtp_server(impl, data_size_limit=100) as srv, RawClient.connect(srv) as c:
        await c.begin_data()
        c.write(b"." * 98 + b"\r\n.\r\n")  # 100 raw bytes: accepted
        assert await c.reply() == b"250 OK\r\n"
        await c.begin_data()
        c.write(b"." * 99 + b"\r\n.\r\n")  # 101 raw bytes (100 once unstuffed)
        assert await c.reply() == b"552 Error: Too much mail data\r\n"
        await c.begin_data()  # the session is still usable
        c.write(b"ok\r\n.\r\n")
        assert await c.reply() == b"250 OK\r\n"
    assert srv.handler.contents == [b"." * 97 + b"\r\n", b"ok\r\n"]


@both
async def test_size_limit_exceeded_by_big_split_body_keeps_session(impl: str) -> None:
    async with smtp_server(impl, data_size_limit=100_000) as srv, RawClient.connect(srv) as c:
        await c.begin_data()
        body = b"".join(b"%06d " % i + b"z" * 70 + CRLF for i in range(4000))
        wire = body + b".\r\nNOOP\r\n"
        await c.send_paced(pieces_of(wire, range(1000, len(wire), 7919)))
        assert await c.replies(2) == [b"552 Error: Too much mail data\r\n", b"250 OK\r\n"]
        await c.begin_data()
        c.write(b"small\r\n.\r\n")
        assert await c.reply() == b"250 OK\r\n"
    assert srv.handler.contents == [b"small\r\n"]


@both
async def test_line_length_limit_kept(impl: str) -> None:
    async with smtp_server(impl) as srv, RawClient.connect(srv) as c:
        await c.begin_data()
        c.write(b"a" * 999 + b"\r\n.\r\n")  # 1001 bytes with CRLF: accepted
        assert await c.reply() == b"250 OK\r\n"
        await c.begin_data()
        await c.send_paced([b"b" * 600, b"b" * 400 + b"\r", b"\n.\r\n"])  # 1002 bytes
        assert await c.reply() == b"500 Line too long (see RFC5321 4.5.3.1.6)\r\n"
        await c.begin_data()
        c.write(b"c" * 5000 + b"\r\nnext\r\n.\r\n")
        assert await c.reply() == b"500 Line too long (see RFC5321 4.5.3.1.6)\r\n"
        assert (await c.cmd(b"NOOP")).startswith(b"250")
    assert srv.handler.contents == [b"a" * 999 + b"\r\n"]


async def test_connection_lost_during_data() -> None:
    async with smtp_server("fast") as srv:
        async with RawClient.connect(srv) as c:
            await c.begin_data()
            await c.send_paced([b"partial\r\n", b"\r\n."])
            proto = c.proto
        while proto.transport is not None:  # until the server saw the close
            proto.progress.clear()
            await proto.progress.wait()
        async with RawClient.connect(srv) as c:  # the server still works
            await c.begin_data()
            c.write(b"x\r\n.\r\n")
            assert await c.reply() == b"250 OK\r\n"
    assert srv.handler.contents == [b"x\r\n"]


# --- normal clients ---------------------------------------------------------------------


async def test_aiosmtplib_and_smtplib_through_serve() -> None:
    handler = Recorder()
    server = await serve(handler, "127.0.0.1", 0, hostname="mx.test", data_size_limit=10**6)
    port = server.sockets[0].getsockname()[1]
    first = b"Subject: a\r\n\r\n.leading dot\r\n..two\r\n\xc3\xa9t\xc3\xa9\r\n"
    second = b"Subject: b\r\n\r\n" + b"x" * 900 + b"\r\n" * 3
    try:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as client:
            await client.sendmail("a@x.test", ["b@y.test"], first)
            await client.sendmail("a@x.test", ["c@y.test", "d@y.test"], second)

        def with_smtplib() -> None:
            with smtplib.SMTP("127.0.0.1", port) as s:
                s.sendmail("e@x.test", ["f@y.test"], first)

        await asyncio.to_thread(with_smtplib)
    finally:
        server.close()
        await server.wait_closed()
    assert handler.contents == [first, second, first]
    assert [e.rcpt_tos for e in handler.envelopes][1] == ["c@y.test", "d@y.test"]


def test_fast_controller_serves_fast_sessions() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Recorder()
    controller = FastController(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with smtplib.SMTP("127.0.0.1", port) as s:
            s.sendmail("a@x.test", ["b@y.test"], b"..hi\r\n")
        assert isinstance(controller.smtpd, FastSMTP)
    finally:
        controller.stop()
    assert handler.contents == [b"..hi\r\n"]


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT")
async def test_serve_reuse_port() -> None:
    first = await serve(Recorder(), "127.0.0.1", 0, reuse_port=True, hostname="mx.test")
    port = first.sockets[0].getsockname()[1]
    try:
        second = await serve(Recorder(), "127.0.0.1", port, reuse_port=True, hostname="mx.test")
        second.close()
        await second.wait_closed()
        with pytest.raises(OSError, match="address already in use") as info:
            await serve(Recorder(), "127.0.0.1", port, hostname="mx.test")
        assert info.value.errno == errno.EADDRINUSE
    finally:
        first.close()
        await first.wait_closed()


# --- per-connection introspection cache ---------------------------------------------------


class _EhloAuthHandler(Recorder):
    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, r: Any):
        return r

    async def auth_CUSTOM(self, server: Any, args: Any) -> Any:
        return None


def _handlers() -> dict[str, Any]:
    with_instance_hook = Recorder()

    async def handle_RCPT(server: Any, session: Any, envelope: Any, address: str, opts: Any):
        return "250 OK"

    with_instance_hook.handle_RCPT = handle_RCPT  # type: ignore[attr-defined]
    module = types.ModuleType("hooks")
    module.handle_DATA = handle_RCPT  # type: ignore[attr-defined]
    return {
        "plain": Recorder(),
        "ehlo+auth": _EhloAuthHandler(),
        "instance hook": with_instance_hook,
        "class": Recorder,
        "module": module,
    }


def _introspection(proto: SMTP) -> tuple:
    return (
        proto._handle_hooks,
        {k: (getattr(v.method, "__func__", v.method), v.is_builtin) for k, v in proto._auth_methods.items()},
        {k: v.__func__ for k, v in proto._smtp_methods.items()},
        proto._ehlo_hook_ver,
    )


@pytest.mark.parametrize("kind", list(_handlers()))
async def test_cached_introspection_matches_stock(kind: str, monkeypatch: Any) -> None:
    handler = _handlers()[kind]
    stock, fast = SMTP(handler, hostname="h"), FastSMTP(handler, hostname="h")
    assert fast.event_handler is handler
    assert list(fast._handle_hooks) == list(stock._handle_hooks)
    s_hooks, s_auth, s_smtp, s_ver = _introspection(stock)
    f_hooks, f_auth, f_smtp, f_ver = _introspection(fast)
    assert (f_hooks, f_auth, f_ver) == (s_hooks, s_auth, s_ver)
    assert f_smtp == {**s_smtp, "DATA": FastSMTP.smtp_DATA}
    assert set(dir(stock)) <= set(dir(fast))  # dir() is normal again after __init__

    scanned: list[list[str]] = []
    getmembers = inspect.getmembers

    def recording(obj: Any, *args: Any) -> Any:
        scanned.append(dir(obj))
        return getmembers(obj, *args)

    monkeypatch.setattr(aiosmtpd_smtp.inspect, "getmembers", recording)
    FastSMTP(handler, hostname="h")
    assert len(scanned) == 2  # the protocol, then the handler
    hook_names = [[n for n in names if n.startswith(("auth_", "handle_", "smtp_"))] for names in scanned]
    assert scanned[0] == hook_names[0]  # the protocol: cached hook names only
    if kind in ("plain", "ehlo+auth", "instance hook"):  # the handler: likewise
        assert scanned[1] == hook_names[1]
        assert ("handle_RCPT" in scanned[1]) == (kind == "instance hook")
    else:  # classes and modules have their own dir(): not cached
        assert scanned[1] == dir(handler)
    SMTP(handler, hostname="h")
    assert len(scanned[2]) > 100  # stock scans every attribute of the protocol


def test_rejected_body_is_not_buffered() -> None:
    """Once the outcome is an error, nothing more is kept (aiosmtpd drops data too)."""
    long_line = _Body(None, 1001)
    long_line.feed(b"ok\r\n" + b"x" * 1003)  # this line cannot end within 1001+2 bytes
    assert (long_line.state, long_line.parts, long_line.tail) == (_DataState.TOO_LONG, [], b"")
    long_line.feed(b"y" * 100_000)
    assert (long_line.parts, long_line.tail) == ([], b"")
    too_much = _Body(10, 1001)
    too_much.feed(b"12345\r\n")
    assert too_much.parts == [b"12345\r\n"]
    too_much.feed(b"678\r\n" + b"z" * 500)
    assert (too_much.state, too_much.parts, too_much.tail) == (_DataState.TOO_MUCH, [], b"")


class _SyncLegacyHandler:
    """Pre-handle_DATA API: only ``process_message()``."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def process_message(self, peer: Any, mail_from: str, rcpt_tos: list[str], data: Any) -> Any:
        self.seen.append((mail_from, rcpt_tos, data))
        return None  # means "250 OK"


class _AsyncLegacyHandler(_SyncLegacyHandler):
    async def process_message(  # type: ignore[override]
        self, peer: Any, mail_from: str, rcpt_tos: list[str], data: Any
    ) -> Any:
        self.seen.append((mail_from, rcpt_tos, data))
        return "250 legacy"


@both
@pytest.mark.parametrize("legacy", [_SyncLegacyHandler, _AsyncLegacyHandler])
async def test_deprecated_process_message_fallback(impl: str, legacy: type) -> None:
    handler = legacy()
    server = await asyncio.get_running_loop().create_server(
        lambda: IMPLS[impl](handler, hostname="mx.test"), "127.0.0.1", 0
    )
    try:
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
        client = RawClient(reader, writer)
        assert (await client.reply()).startswith(b"220")
        await client.begin_data()
        client.write(b"..x\r\n.\r\n")
        with pytest.warns(DeprecationWarning, match="process_message"):
            reply = await client.reply()
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    assert reply == (b"250 legacy\r\n" if legacy is _AsyncLegacyHandler else b"250 OK\r\n")
    assert handler.seen == [("a@x.test", ["b@y.test"], b".x\r\n")]


async def test_unsupported_ehlo_hook_still_rejected() -> None:
    class Bad:
        async def handle_EHLO(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 x"

    for cls in (SMTP, FastSMTP):
        with pytest.raises(RuntimeError, match="Unsupported EHLO Hook"):
            cls(Bad(), hostname="h")


# --- differential: FastSMTP vs aiosmtpd's SMTP ------------------------------------------

DIFF_CASES: list[tuple[bytes, dict[str, Any]]] = [
    *((wire, {}) for wire, _ in TRANSPARENCY_CASES.values()),
    (b"..\r\n.\r\n", {}),
    (b"\r\n..\r\n.\r\n", {}),
    (b"x\r\n.\r\nNOOP\r\n", {}),  # leftover command after the dot
    (b".\r\nRSET\r\nNOOP\r\n", {}),
    (b"a" * 1002 + b"\r\n.\r\n", {}),
    (b"a" * 1001 + b"\r\n.\r\n", {}),
    (b"a" * 1000 + b"\r\n.\r\n", {}),
    (b"a" * 999 + b"\r\n.\r\n", {}),
    (b"." * 1001 + b"\r\n.\r\n", {}),
    (b"a" * 3000 + b"\r.\r\n.\r\n", {}),
    (b"1234567890\r\n" * 3 + b".\r\n", {"data_size_limit": 36}),
    (b"1234567890\r\n" * 3 + b".\r\n", {"data_size_limit": 35}),
    (b"12345\r\n" + b"z" * 2000 + b"\r\n.\r\n", {"data_size_limit": 8}),  # 552 first
    (b"z" * 2000 + b"\r\n12345\r\n.\r\n", {"data_size_limit": 8}),  # 500 first
    (b"123456789\r\n" + b"z" * 20 + b"\r\n.\r\n", {"data_size_limit": 12, "line_length_limit": 21}),
    (b"12345678\r\n" + b"z" * 20 + b"\r\n.\r\n", {"data_size_limit": 12, "line_length_limit": 21}),
    (b"\xe9t\xe9\r\n.\r\n", {"decode_data": True}),
    (b"\xe9t\xe9\r\n.\r\n", {"decode_data": True, "enable_SMTPUTF8": True}),
    (b"ascii\r\n..x\r\n.\r\n", {"decode_data": True}),
]


def _random_case(rng: random.Random) -> tuple[bytes, dict[str, Any], list[int]]:
    tokens = [b".", b"..", b"\r\n", b"\r", b"\n", b"x", b"\xff", b"\r\n.", b"\r\n..", b".\r\n"]
    tokens += [b"\r\n.\r\n"[: rng.randint(1, 4)], b"y" * rng.randint(0, 40)]
    near_limits = [18, 19, 20, 21, 22, 23, 24, 29, 30, 31, 32, 33, 998, 999, 1000, 1001, 1100]
    tokens.append(b"z" * rng.choice(near_limits))
    wire = b"".join(rng.choice(tokens) for _ in range(rng.randint(0, 40)))
    wire += rng.choice([b"\r\n.\r\n", b".\r\n", b"\r\n\r\n.\r\n", b"\r.\r\n\r\n.\r\n"])
    kw = {
        # >= 21: the commands of begin_data() must still fit
        "line_length_limit": rng.choice([21, 22, 31, 1001]),
        "data_size_limit": rng.choice([None, 0, 10, 30, 60, 1000]),
        "decode_data": rng.random() < 0.2,
    }
    cuts = rng.sample(range(1, len(wire)), min(len(wire) - 1, rng.randint(0, 10)))
    return wire, kw, cuts


async def _transcript(impl: str, wire: bytes, kw: dict[str, Any], cuts: Sequence[int]) -> tuple:
    """Everything observable: replies after DATA (to EOF) and what the handler got."""
    async with smtp_server(impl, **kw) as srv, RawClient.connect(srv) as c:
        await c.begin_data()
        await c.send_paced(pieces_of(wire, cuts))
        with contextlib.suppress(ConnectionError):
            # Ends DATA if the case did not; then QUIT. Both may be plain data/commands.
            await c.send_paced([b"\r\n.\r\nQUIT\r\n"])
        replies = await c.read_to_eof()
    return replies, [(e.content, e.original_content) for e in srv.handler.envelopes]


@pytest.mark.parametrize("index", range(len(DIFF_CASES)))
async def test_differential_curated(index: int) -> None:
    wire, kw = DIFF_CASES[index]
    for cuts in ([], list(range(1, len(wire)))):  # one write, then one byte per write
        stock = await _transcript("stock", wire, kw, cuts)
        fast = await _transcript("fast", wire, kw, cuts)
        assert fast == stock, (wire, kw, cuts)


@pytest.mark.parametrize("seed", range(4))
async def test_differential_random(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(40):
        wire, kw, cuts = _random_case(rng)
        stock = await _transcript("stock", wire, kw, cuts)
        fast = await _transcript("fast", wire, kw, cuts)
        assert fast == stock, (wire, kw, sorted(cuts))
