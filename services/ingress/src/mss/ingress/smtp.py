"""Fast aiosmtpd (1.4.6) SMTP protocol for the ingress.

Stock ``aiosmtpd.smtp.SMTP`` reads DATA one CRLF-terminated line per ``await`` (about
9 µs per line) and introspects both itself and the handler on every connection.
:class:`FastSMTP` keeps aiosmtpd's observable behaviour but:

* reads DATA in large chunks with the reader's public API and never consumes a byte past
  the terminating ``CRLF.CRLF``, so pipelined commands stay in the ``StreamReader`` for
  ``_handle_client``: nothing has to be pushed back and the reader is not replaced;
* caches, per class, the attribute names that ``SMTP.__init__`` scans with
  ``dir()`` / ``inspect.getmembers()``.

Checks on the body are aiosmtpd's: ``data_size_limit`` counts the raw (still dot-stuffed)
bytes of every line except the terminator, a raw line longer than ``line_length_limit``
(CRLF included) gives ``500 Line too long``, and when both apply the first offending line
decides, as in aiosmtpd. Lines are delimited by CRLF only: a bare LF is ordinary data, so
``"a\\n.\\r\\n"`` neither ends the message nor is unstuffed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any
from warnings import warn

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, _DataState, syntax

__all__ = ["FastController", "FastSMTP", "serve"]

log = logging.getLogger("mail.log")  # aiosmtpd's logger

_SEP = b"\r\n.\r\n"
_PREFIXES = ("auth_", "handle_", "smtp_")  # everything SMTP.__init__ looks for
_class_names: dict[type, list[str]] = {}


def _partial(window: bytes) -> int:
    """Return the length of the longest proper prefix of ``CRLF.CRLF`` ending ``window``."""
    for k in (4, 3, 2, 1):
        if window.endswith(_SEP[:k]):
            return k
    return 0


def _hook_names(obj: object) -> list[str]:
    """``[n for n in dir(obj) if n.startswith(_PREFIXES)]``, class part cached per type.

    Only valid for objects whose ``dir()`` is ``object.__dir__`` (class attributes plus
    the instance ``__dict__``). Assumes classes do not gain hook methods after their
    first connection.
    """
    cls = type(obj)
    names = _class_names.get(cls)
    if names is None:
        names = _class_names[cls] = [n for n in dir(cls) if n.startswith(_PREFIXES)]
    extra = [k for k in getattr(obj, "__dict__", ()) if k.startswith(_PREFIXES)]
    return sorted({*names, *extra}) if extra else names


class _HandlerView:
    """Stand-in for the handler during ``SMTP.__init__`` only: cheap ``dir()``, and
    every looked-up attribute is the real handler's (so hooks are its bound methods)."""

    __slots__ = ("_handler", "_names")

    def __init__(self, handler: object) -> None:
        self._handler = handler
        self._names = _hook_names(handler)

    def __dir__(self) -> list[str]:
        return self._names

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handler, name)


def _plain_dir(obj: object) -> bool:
    cls = type(obj)
    return cls.__dir__ is object.__dir__ and cls.__getattribute__ is object.__getattribute__


class _Body:
    """Incremental check + storage of the raw DATA bytes, with aiosmtpd's rules."""

    __slots__ = ("count", "limit", "max_line", "parts", "state", "tail")

    def __init__(self, limit: int | None, max_line: int) -> None:
        self.limit = limit or 0  # aiosmtpd: a falsy limit means unlimited
        self.max_line = max_line
        self.parts: list[bytes] = []  # complete lines, unstuffed, in order
        self.tail = b""  # raw bytes of the current, unterminated line
        self.count = 0  # raw bytes of the complete lines seen so far
        self.state = _DataState.NOMINAL

    def feed(self, data: bytes) -> None:
        """Add raw body bytes (never the terminator line); data are dropped on error."""
        if self.state is not _DataState.NOMINAL or not data:
            return
        buf = self.tail + data if self.tail else data
        end = buf.rfind(b"\r\n") + 2
        if end > 1:
            block = buf[:end]
            if self._lines_fit(block) and (not self.limit or self.count + end <= self.limit):
                self.count += end
                # Transparency (RFC 5321 4.5.2): a line starting with "." loses it.
                if block.startswith(b"."):
                    block = block[1:]
                self.parts.append(block.replace(b"\r\n.", b"\r\n"))
            else:
                self._fail(block.split(b"\r\n")[:-1])
                return
            buf = buf[end:]
        self.tail = buf
        # aiosmtpd's StreamReader(limit=line_length_limit) overruns (-> TOO_LONG, before the
        # line is counted) once a line's content exceeds the limit; that is certain here.
        if len(buf) > self.max_line + 1:
            self._set(_DataState.TOO_LONG)

    def _lines_fit(self, block: bytes) -> bool:
        """Whether no line of ``block`` (whole CRLF lines) exceeds ``max_line`` bytes.

        Screen first without making one object per line: if a CRLF starts in every
        aligned ``w``-byte window, no line has ``2w - 1 >= max_line - 1`` content bytes.
        """
        w, end = self.max_line // 2, len(block)
        if w >= 64:
            find = block.find
            for start in range(0, end - 1, w):
                if find(b"\r\n", start, start + w + 1) < 0:
                    break
            else:
                return True
        return max(map(len, block.split(b"\r\n"))) + 2 <= self.max_line

    def _fail(self, lines: list[bytes]) -> None:
        """Replay aiosmtpd's per-line state machine to find which error comes first."""
        for line in lines:
            n = len(line) + 2
            if n > self.max_line + 2:  # readuntil() overrun, raised before counting
                return self._set(_DataState.TOO_LONG)
            self.count += n
            if self.limit and self.count > self.limit:
                return self._set(_DataState.TOO_MUCH)
            if n > self.max_line:  # aiosmtpd's "defensive" length check
                return self._set(_DataState.TOO_LONG)
        raise AssertionError("unreachable: a fast-path check failed")  # pragma: no cover

    def _set(self, state: _DataState) -> None:
        self.state, self.parts, self.tail = state, [], b""

    def content(self) -> bytes:
        """The body, dot-unstuffed (``feed`` does it per block of whole lines)."""
        assert not self.tail
        return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)


class FastSMTP(SMTP):
    """``aiosmtpd.smtp.SMTP`` with chunked DATA reading and cached introspection."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        """Same arguments as ``SMTP``; ``SMTP.__init__``'s scans hit per-class caches."""
        # SMTP.__init__ sets no auth_/handle_/smtp_ attribute: the names are final here.
        self._fast_init = _hook_names(self)  # what __dir__ returns while SMTP.__init__ runs
        try:
            view = _HandlerView(handler) if _plain_dir(handler) else handler
            super().__init__(view, **kwargs)
        finally:
            del self._fast_init
        self.event_handler = handler

    def __dir__(self) -> list[str]:
        """Normal ``dir()``, except the cached hook names during ``__init__``."""
        names: list[str] | None = self.__dict__.get("_fast_init")
        return list(super().__dir__()) if names is None else names

    async def _read_data(self, body: _Body) -> None:
        """Consume DATA up to and including the terminator, feeding ``body``.

        ``k`` is how much of ``CRLF.CRLF`` the consumed stream currently ends with (it
        starts at 2: the CRLF ending the DATA command). With ``k`` matched, the earliest
        possible end of the terminator is ``5 - k`` bytes away, and any terminator ends
        with ``_SEP[k:]``; so ``readexactly(5 - k)`` and ``readuntil(_SEP[k:])`` can never
        read past it. ``LimitOverrunError`` (the reader's limit is ``line_length_limit``)
        tells how many bytes can be taken without splitting a separator: that is the
        bulk path, one chunk per socket read.
        """
        reader: asyncio.StreamReader = self._reader
        tail, held, k = b"\r\n", b"", 2  # held: possible start of the terminator line
        while True:
            if k < 2:
                try:
                    chunk = await reader.readuntil(_SEP[k:])
                except asyncio.LimitOverrunError as e:
                    chunk = await reader.read(e.consumed)
            else:
                chunk = await reader.readexactly(5 - k)
            window = tail + chunk[-5:]
            data = held + chunk if held else chunk
            if window.endswith(_SEP):
                body.feed(data[:-3])  # drop ".\r\n"; the CRLF before it is body
                return
            k = _partial(window)
            keep = k - 2 if k > 2 else 0  # "." or ".\r" may still be the terminator
            body.feed(data[:-keep] if keep else data)
            held = data[-keep:] if keep else b""
            tail = window[-4:]

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        """DATA as in aiosmtpd 1.4.6, with the body read by :meth:`_read_data`."""
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        body = _Body(self.data_size_limit, self.line_length_limit)
        try:
            await self._read_data(body)
        except asyncio.CancelledError:
            log.info("Connection lost during DATA")
            self._writer.close()
            raise
        if body.state is not _DataState.NOMINAL:
            if body.state is _DataState.TOO_LONG:
                await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
            else:
                await self.push("552 Error: Too much mail data")
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            return
        original_content = body.content()
        content: str | bytes = original_content
        if self._decode_data:
            if self.enable_SMTPUTF8:
                content = original_content.decode("utf-8", errors="surrogateescape")
            else:
                try:
                    content = original_content.decode("ascii", errors="strict")
                except UnicodeDecodeError:
                    await self.push("500 Error: strict ASCII mode")  # envelope kept, as stock
                    return
        self.envelope.content = content
        self.envelope.original_content = original_content
        if "DATA" in self._handle_hooks:
            status = await self._call_handler_hook("DATA")
        else:
            status = await self._process_message()
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)

    async def _process_message(self) -> Any:
        """aiosmtpd's deprecated ``process_message()`` fallback, unchanged."""
        handler = self.event_handler
        if not hasattr(handler, "process_message"):
            return MISSING
        msg = "Use handler.handle_DATA() instead of .process_message()"
        warn(msg, DeprecationWarning, stacklevel=1)
        assert self.session is not None
        assert self.envelope is not None
        env = self.envelope
        args = (self.session.peer, env.mail_from, env.rcpt_tos, env.content)
        if asyncio.iscoroutinefunction(handler.process_message):
            status = await handler.process_message(*args)
        else:
            status = handler.process_message(*args)
        return MISSING if status is None else status


class FastController(Controller):
    """aiosmtpd's threaded ``Controller`` serving :class:`FastSMTP` sessions."""

    def factory(self) -> FastSMTP:
        """Build one session protocol, like ``Controller.factory``."""
        return FastSMTP(self.handler, **self.SMTP_kwargs)


async def serve(
    handler: Any,
    host: str | None,
    port: int,
    *,
    reuse_port: bool = False,
    backlog: int = 100,
    **smtp_kwargs: Any,
) -> asyncio.base_events.Server:
    """Listen with :class:`FastSMTP` on the running loop and return the started server.

    ``smtp_kwargs`` go to ``FastSMTP`` (``data_size_limit``, ``hostname``, ...). If no
    ``hostname`` is given it is resolved once here (in a thread) instead of by
    ``socket.getfqdn()`` on every connection. ``reuse_port`` sets ``SO_REUSEPORT`` so
    several processes can share the port. Close with ``server.close()`` and
    ``await server.wait_closed()``.
    """
    loop = asyncio.get_running_loop()
    if not smtp_kwargs.get("hostname"):
        smtp_kwargs["hostname"] = await loop.run_in_executor(None, socket.getfqdn)
    smtp_kwargs.setdefault("loop", loop)

    def factory() -> FastSMTP:
        return FastSMTP(handler, **smtp_kwargs)

    return await loop.create_server(factory, host, port, reuse_port=reuse_port, backlog=backlog)
