"""One SMTP transaction to a next hop with aiosmtplib, reported per recipient.

To another operator, STARTTLS with our client certificate is mandatory and the server's certificate
must chain to the IGC-Santé CA and be listed for the recipient's domain: any TLS failure defers the
recipients with its reason, never falls back to plaintext.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass

import aiosmtplib
from mss.core.tls import PeerCertificate, peer_certificate
from mss.egress.domain.outcome import Outcome, RecipientResult, classify


@dataclass(frozen=True)
class Hop:
    """Where and how to connect."""

    host: str
    port: int
    tls: ssl.SSLContext | None = None
    """Mandatory STARTTLS with this context; None: plain SMTP (establishment smarthost)."""
    accept_peer: Callable[[PeerCertificate], str | None] | None = None
    """Returns why a verified server certificate is not acceptable, or None when it is."""


@dataclass(frozen=True)
class Attempt:
    """The per-recipient results of one transaction and its TLS evidence."""

    results: list[RecipientResult]
    tls: PeerCertificate | None = None


def _all(recipients: list[str], outcome: Outcome, reply: str, tls: PeerCertificate | None = None) -> Attempt:
    return Attempt([RecipientResult(r, outcome, reply) for r in recipients], tls)


async def relay(
    hop: Hop,
    *,
    helo: str,
    mail_from: str,
    recipients: list[str],
    content: bytes,
    connect_timeout: float,
    command_timeout: float,
) -> Attempt:
    """Send ``content`` to ``recipients`` through ``hop``; never raises for SMTP or TLS outcomes."""
    where = f"{hop.host}:{hop.port}"
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
            if tls is None:
                return _all(
                    recipients, Outcome.DEFERRED, f"451 4.7.5 {where}: no verified server certificate"
                )
            refusal = hop.accept_peer(tls) if hop.accept_peer is not None else None
            if refusal is not None:
                return _all(recipients, Outcome.DEFERRED, f"451 4.7.5 {where}: {refusal}", tls)
        return Attempt(await _transaction(client, mail_from, recipients, content, where), tls)
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()


async def _transaction(
    client: aiosmtplib.SMTP, mail_from: str, recipients: list[str], content: bytes, where: str
) -> list[RecipientResult]:
    try:
        refused, response = await client.sendmail(mail_from, recipients, content)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        return [
            RecipientResult(err.recipient, classify(err.code), f"{err.code} {err.message}")
            for err in exc.recipients
        ]
    except aiosmtplib.SMTPResponseException as exc:
        return _all(recipients, classify(exc.code), f"{exc.code} {exc.message}").results
    except ValueError as exc:  # an address aiosmtplib cannot send safely
        return _all(recipients, Outcome.BOUNCED, f"553 5.1.3 {exc}").results
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return _all(recipients, Outcome.DEFERRED, f"451 4.4.2 {where}: {type(exc).__name__}: {exc}").results
    results = []
    for address in recipients:
        if address in refused:
            error = refused[address]
            results.append(RecipientResult(address, classify(error.code), f"{error.code} {error.message}"))
        else:
            results.append(RecipientResult(address, Outcome.DELIVERED, f"250 {response}"))
    return results
