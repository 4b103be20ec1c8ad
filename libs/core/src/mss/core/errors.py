"""The one error tree of mss: every error carries a stable code."""

from __future__ import annotations


class MssError(Exception):
    """Base of every mss error; ``code`` is stable and safe to show or log."""

    code = "mss.error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class ConfigError(MssError):
    """A setting or a configuration file is missing or invalid."""

    code = "mss.config"


class ContractError(MssError):
    """A payload does not decode as the expected contract message."""

    code = "mss.contract"


class UnavailableError(MssError):
    """A dependency (bus, database, another service) did not answer in time."""

    code = "mss.unavailable"


class DataError(MssError):
    """Input data (a seed, a list, a file) is malformed."""

    code = "mss.data"


class NotFoundError(MssError):
    """The named thing (tenant, domain, mailbox…) does not exist."""

    code = "mss.not_found"


class ConflictError(MssError):
    """The change contradicts what exists: a duplicate, an address used before, a final state."""

    code = "mss.conflict"
