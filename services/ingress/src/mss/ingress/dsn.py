"""The SMTP DSN extension (RFC 3461) at ingress: RET and ENVID on MAIL FROM, NOTIFY and ORCPT on
RCPT TO.

aiosmtpd knows none of these and upper-cases every parameter before a handler sees it, which
would corrupt ENVID and ORCPT. :class:`DsnSMTP` takes them out of the command line first, with
their case, checks them, and leaves them on the session for the handler (``session.dsn_mail``,
``session.dsn_rcpt``); a malformed one gets ``501 5.5.4`` and the command goes no further.
"""

from __future__ import annotations

from dataclasses import dataclass

from mss.core.dsn import decode_xtext
from mss.ingress.smtp import FastSMTP

_NOTIFY = {"SUCCESS", "FAILURE", "DELAY"}
MAX_ENVID = 100  # RFC 3461 §4.4


class DsnError(ValueError):
    """A DSN parameter the client got wrong; its text is the reply."""


@dataclass(frozen=True)
class MailDsn:
    """RET and ENVID of a MAIL FROM."""

    ret: str = ""
    envid: str = ""


@dataclass(frozen=True)
class RcptDsn:
    """NOTIFY and ORCPT of a RCPT TO."""

    notify: str = ""
    orcpt: str = ""


def _xtext(value: str) -> str:
    """Decoded xtext, or the client's error."""
    try:
        return decode_xtext(value)
    except ValueError as exc:  # UnicodeDecodeError included
        raise DsnError("501 5.5.4 Malformed xtext in a DSN parameter") from exc


def _split(arg: str, names: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """The command argument without the named parameters, and those parameters (name upper-cased,
    value as given). The first word holds the address and is never taken."""
    words = arg.split(" ")
    kept, found = words[:1], {}
    for word in words[1:]:
        name, eq, value = word.partition("=")
        if eq and name.upper() in names:
            if name.upper() in found:
                raise DsnError(f"501 5.5.4 {name.upper()} given twice")
            found[name.upper()] = value
        else:
            kept.append(word)
    return " ".join(kept), found


def parse_mail(arg: str) -> tuple[str, MailDsn]:
    """Take RET and ENVID out of a MAIL FROM argument."""
    rest, found = _split(arg, ("RET", "ENVID"))
    ret = found.get("RET", "").upper()
    if "RET" in found and ret not in ("FULL", "HDRS"):
        raise DsnError("501 5.5.4 RET must be FULL or HDRS")
    envid = _xtext(found["ENVID"]) if "ENVID" in found else ""
    if len(envid) > MAX_ENVID:
        raise DsnError(f"501 5.5.4 ENVID longer than {MAX_ENVID} characters")
    return rest, MailDsn(ret, envid)


def parse_rcpt(arg: str) -> tuple[str, RcptDsn]:
    """Take NOTIFY and ORCPT out of a RCPT TO argument."""
    rest, found = _split(arg, ("NOTIFY", "ORCPT"))
    notify = found.get("NOTIFY", "").upper()
    if "NOTIFY" in found:
        values = notify.split(",")
        if values != ["NEVER"] and (not set(values) <= _NOTIFY or len(set(values)) != len(values)):
            raise DsnError("501 5.5.4 NOTIFY must be NEVER, or SUCCESS, FAILURE and DELAY")
    orcpt = ""
    if "ORCPT" in found:
        kind, semicolon, address = found["ORCPT"].partition(";")
        if not semicolon or not kind or not address:
            raise DsnError("501 5.5.4 ORCPT must be addr-type;address")
        orcpt = f"{kind.lower()};{_xtext(address)}"
        if len(orcpt) > 500:
            raise DsnError("501 5.5.4 ORCPT too long")
    return rest, RcptDsn(notify, orcpt)


class DsnSMTP(FastSMTP):
    """FastSMTP that accepts the DSN parameters (EHLO advertises ``DSN``: see the handler)."""

    async def smtp_MAIL(self, arg: str | None) -> None:
        """MAIL FROM with RET and ENVID taken out first."""
        if arg and self.session is not None and self.session.extended_smtp:
            try:
                arg, self.session.dsn_mail = parse_mail(arg)  # type: ignore[attr-defined]
            except DsnError as exc:
                await self.push(str(exc))
                return
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        """RCPT TO with NOTIFY and ORCPT taken out first."""
        if arg and self.session is not None and self.session.extended_smtp:
            try:
                arg, self.session.dsn_rcpt = parse_rcpt(arg)  # type: ignore[attr-defined]
            except DsnError as exc:
                await self.push(str(exc))
                return
        await super().smtp_RCPT(arg)
