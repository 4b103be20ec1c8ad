"""One SMTP transaction to a next hop with aiosmtplib, reported per recipient.

To another operator, STARTTLS with our client certificate is mandatory and the server's certificate
must chain to the IGC-Santé CA and be listed for the recipient's domain: any TLS failure defers the
recipients with its reason, never falls back to plaintext.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import aiosmtplib
from mss.core.tls import PeerCertificate, peer_certificate, session_evidence
from mss.egress.connections import Connections
from mss.egress.domain.outcome import Outcome, RecipientResult, classify


@dataclass(frozen=True)
class Hop:
    """Where and how to connect."""

    host: str
    port: int
    tls: ssl.SSLContext | None = None
    """Mandatory STARTTLS with this context (never a fallback to plain text); None: plain SMTP, an
    establishment's explicit choice for its server."""
    accept_peer: Callable[[PeerCertificate], str | None] | None = None
    """Returns why a verified server certificate is not acceptable, or None when it is."""


@dataclass(frozen=True)
class Attempt:
    """The per-recipient results of one transaction and its TLS evidence."""

    results: list[RecipientResult]
    tls: PeerCertificate | None = None
    dsn: bool = False
    """The next hop took the DSN parameters (RFC 3461): reports on success are its to send."""
    host: str = ""
    """The host:port tried last (an MX destination has several)."""


@dataclass(frozen=True)
class Envelope:
    """What one transaction sends: the sender, the recipients, and the DSN parameters given at
    ingress (passed on only to a next hop that advertises DSN)."""

    mail_from: str
    recipients: list[str]
    mail_options: list[str] = field(default_factory=list)
    rcpt_options: dict[str, list[str]] = field(default_factory=dict)


def _all(recipients: list[str], outcome: Outcome, reply: str, tls: PeerCertificate | None = None) -> Attempt:
    return Attempt([RecipientResult(r, outcome, reply) for r in recipients], tls)


async def relay(
    hop: Hop,
    *,
    helo: str,
    envelope: Envelope,
    content: bytes,
    connect_timeout: float,
    command_timeout: float,
    connections: Connections | None = None,
    key: Hashable = None,
) -> Attempt:
    """Send ``content`` to the envelope's recipients through ``hop``; never raises for SMTP or TLS
    outcomes. With ``connections``, an idle connection to ``key`` is reused (a new one is opened
    if it turns out to be closed) and the connection is kept for the next transaction."""
    if connections is not None:
        reused = connections.take(key)
        if reused is not None:
            where = f"{hop.host}:{hop.port}"
            try:
                done = await _transaction(reused.client, envelope, content, where, reuse=True)
            except _Stale:
                reused.client.close()
            else:
                if not (done.clean and connections.give(key, reused.client, reused.tls)):
                    reused.client.close()
                return Attempt(done.results, reused.tls, done.dsn)
    return await _fresh(hop, helo, envelope, content, connect_timeout, command_timeout, connections, key)


class _Stale(Exception):
    """A reused connection turned out to be closed before the transaction began."""


def _keep(
    connections: Connections, key: Hashable, client: aiosmtplib.SMTP, tls: PeerCertificate | None
) -> None:
    if not connections.give(key, client, tls):
        client.close()


async def _fresh(
    hop: Hop,
    helo: str,
    envelope: Envelope,
    content: bytes,
    connect_timeout: float,
    command_timeout: float,
    connections: Connections | None,
    key: Hashable,
) -> Attempt:
    """The transaction over a new connection."""
    recipients = envelope.recipients
    where = f"{hop.host}:{hop.port}"
    kept = False
    client = aiosmtplib.SMTP(
        hostname=hop.host,
        port=hop.port,
        local_hostname=helo,
        timeout=command_timeout,
        start_tls=hop.tls is not None,
        tls_context=hop.tls,
    )
    tls: PeerCertificate | None = None
    try:
        try:
            await client.connect(timeout=connect_timeout)
        except (aiosmtplib.SMTPException, ssl.SSLError, OSError, TimeoutError) as exc:
            kind = "TLS" if hop.tls is not None else "connection"
            return _all(
                recipients, Outcome.DEFERRED, f"451 4.4.1 {where}: {kind} failed: {type(exc).__name__}: {exc}"
            )
        if hop.tls is not None:
            ssl_object = client.transport.get_extra_info("ssl_object") if client.transport else None
            tls = peer_certificate(ssl_object) if ssl_object is not None else None
            if tls is None and ssl_object is not None and hop.accept_peer is None:  # encrypted only
                tls = session_evidence(ssl_object)
            if hop.accept_peer is not None:  # another operator: its certificate decides
                if tls is None:
                    return _all(
                        recipients, Outcome.DEFERRED, f"451 4.7.5 {where}: no verified server certificate"
                    )
                refusal = hop.accept_peer(tls)
                if refusal is not None:
                    return _all(recipients, Outcome.DEFERRED, f"451 4.7.5 {where}: {refusal}", tls)
        done = await _transaction(client, envelope, content, where)
        if connections is not None and done.clean:
            kept = connections.give(key, client, tls)
        return Attempt(done.results, tls, done.dsn)
    finally:
        if client.is_connected and not kept:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()


@dataclass(frozen=True)
class _Done:
    """A transaction's results; ``clean``: it ended in step with the server (the connection may
    carry the next one)."""

    results: list[RecipientResult]
    dsn: bool
    clean: bool


async def _transaction(
    client: aiosmtplib.SMTP, envelope: Envelope, content: bytes, where: str, reuse: bool = False
) -> _Done:
    """EHLO unless done, MAIL, one RCPT per recipient (with its own DSN parameters when the hop
    takes them), DATA; and whether the hop took the DSN parameters. On a reused connection that
    fails or is closed (421) before MAIL is answered, raise _Stale: nothing was sent."""
    recipients = envelope.recipients
    results: dict[str, RecipientResult] = {}
    dsn, clean = False, False
    try:
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()
        dsn = client.supports_extension("dsn")
        mail_options = [f"SIZE={len(content)}"] if client.supports_extension("size") else []
        if dsn:
            mail_options += envelope.mail_options
        try:
            await client.mail(envelope.mail_from, options=mail_options)
        except (aiosmtplib.SMTPServerDisconnected, OSError, TimeoutError) as exc:
            if reuse:
                raise _Stale from exc
            raise
        except aiosmtplib.SMTPResponseException as exc:
            if reuse and exc.code == 421:
                raise _Stale from exc
            raise
        accepted = []
        for address in recipients:
            try:
                await client.rcpt(address, options=envelope.rcpt_options.get(address, []) if dsn else [])
                accepted.append(address)
            except aiosmtplib.SMTPRecipientRefused as err:
                results[address] = RecipientResult(address, classify(err.code), f"{err.code} {err.message}")
        if accepted:
            response = await client.data(content)
            for address in accepted:
                results[address] = RecipientResult(address, Outcome.DELIVERED, f"250 {response.message}")
        else:
            await client.rset()
        clean = True
    except aiosmtplib.SMTPResponseException as exc:  # MAIL or DATA refused: every recipient left
        for address in recipients:
            results.setdefault(
                address, RecipientResult(address, classify(exc.code), f"{exc.code} {exc.message}")
            )
        clean = exc.code != 421 and await _reset(client)
    except ValueError as exc:  # an address aiosmtplib cannot send safely
        for address in recipients:
            results.setdefault(address, RecipientResult(address, Outcome.BOUNCED, f"553 5.1.3 {exc}"))
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        reply = f"451 4.4.2 {where}: {type(exc).__name__}: {exc}"
        for address in recipients:  # all but those already refused for good are deferred
            if address not in results or results[address].outcome is Outcome.DEFERRED:
                results[address] = RecipientResult(address, Outcome.DEFERRED, reply)
    return _Done([results[address] for address in recipients], dsn, clean)


async def _reset(client: aiosmtplib.SMTP) -> bool:
    """RSET after a refusal; True when the connection is in step for another transaction."""
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        return False
    return True
