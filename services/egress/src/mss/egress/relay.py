"""One SMTP transaction to a next hop with aiosmtplib, reported per recipient."""

from __future__ import annotations

import aiosmtplib
from mss.egress.domain.outcome import Outcome, RecipientResult, classify


async def relay(
    host: str,
    port: int,
    *,
    helo: str,
    mail_from: str,
    recipients: list[str],
    content: bytes,
    connect_timeout: float,
    command_timeout: float,
) -> list[RecipientResult]:
    """Send ``content`` to ``recipients`` through host:port; never raises for SMTP outcomes."""
    client = aiosmtplib.SMTP(
        hostname=host, port=port, local_hostname=helo, timeout=command_timeout, start_tls=False
    )
    try:
        await client.connect(timeout=connect_timeout)
        refused, response = await client.sendmail(mail_from, recipients, content)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        return [
            RecipientResult(err.recipient, classify(err.code), f"{err.code} {err.message}")
            for err in exc.recipients
        ]
    except aiosmtplib.SMTPResponseException as exc:
        outcome = classify(exc.code)
        return [RecipientResult(r, outcome, f"{exc.code} {exc.message}") for r in recipients]
    except ValueError as exc:  # an address aiosmtplib cannot send safely
        return [RecipientResult(r, Outcome.BOUNCED, f"553 5.1.3 {exc}") for r in recipients]
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        reason = f"451 4.4.1 {host}:{port}: {type(exc).__name__}: {exc}"
        return [RecipientResult(r, Outcome.DEFERRED, reason) for r in recipients]
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
    accepted_reply = f"250 {response}"
    results = []
    for address in recipients:
        if address in refused:
            error = refused[address]
            results.append(RecipientResult(address, classify(error.code), f"{error.code} {error.message}"))
        else:
            results.append(RecipientResult(address, Outcome.DELIVERED, accepted_reply))
    return results
