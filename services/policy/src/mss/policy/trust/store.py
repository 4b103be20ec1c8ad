"""The allowed-domain list in the NATS Key-Value bucket ``streams.TRUST_BUCKET``.

Key ``current`` holds the list in force as the raw ANS bytes, with its metadata in ``Mss-Trust-*``
headers of the same message (one write, so bytes and metadata never disagree; the bucket's history
keeps the last revisions). Key ``source`` holds what policy last fetched from its configured source
(JSON), shared by the replicas so their conditional GETs agree. Bytes read back are validated again
by every reader.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from mss.bus import streams, subjects
from mss.core.errors import DataError, MssError, UnavailableError
from mss.policy.trust.fetch import Validators
from mss.policy.trust.loader import Loaded, validate_async
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy, Header, RawStreamMsg
from nats.js.errors import APIError, BucketNotFoundError, NotFoundError

log = logging.getLogger(__name__)

_KV_OPERATION = "KV-Operation"
_WRONG_LAST_SEQUENCE = (10071, 10164)


class RevisionConflict(MssError):
    """Another writer changed the key since it was read (compare-and-set refused)."""

    code = "mss.conflict"


def now() -> str:
    """The current UTC time, ISO-8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


IMPORTED = "import:"
"""How the source of a list an operator imported (`mss trust import`) starts."""


@dataclass(frozen=True)
class Meta:
    """Metadata of one stored list (headers of its KV revision)."""

    version: str
    generated_at: str = ""
    domains: int = 0
    sha256: str = ""
    source: str = ""
    loaded_at: str = ""
    previous_version: str = ""
    revision: int = 0

    _FIELDS = ("version", "generated_at", "domains", "sha256", "source", "loaded_at", "previous_version")

    @classmethod
    def of(cls, loaded: Loaded, source: str, previous_version: str = "") -> Meta:
        """Metadata of a validated list about to be stored."""
        return cls(
            version=loaded.trust.version,
            generated_at=loaded.trust.generated_at,
            domains=len(loaded.trust.domains),
            sha256=loaded.sha256,
            source=source,
            loaded_at=now(),
            previous_version=previous_version,
        )

    def headers(self) -> dict[str, str]:
        """The ``Mss-Trust-*`` headers (values percent-encoded: headers are one ASCII line)."""
        names = self._FIELDS
        return {_header(name): quote(str(getattr(self, name)), safe=" :/@._-~+=,") for name in names}

    @classmethod
    def from_headers(cls, headers: Mapping[str, str] | None, revision: int) -> Meta:
        """Metadata read back (missing headers give empty fields)."""
        values = {name: unquote((headers or {}).get(_header(name), "")) for name in cls._FIELDS}
        domains = values.pop("domains")
        return cls(**values, domains=int(domains) if domains.isdigit() else 0, revision=revision)


def _header(name: str) -> str:
    return "Mss-Trust-" + "-".join(part.capitalize() for part in name.split("_"))


@dataclass(frozen=True)
class Stored:
    """One revision of key ``current`` as read from the bucket, not yet validated."""

    data: bytes
    headers: Mapping[str, str]
    revision: int

    async def validate(self, max_bytes: int) -> tuple[Loaded, Meta]:
        """Check the bytes again (size, digest header, parser, version header)."""
        meta = Meta.from_headers(self.headers, self.revision)
        loaded = await validate_async(self.data, max_bytes=max_bytes, expected_sha256=meta.sha256 or None)
        if meta.version and meta.version != loaded.trust.version:
            raise DataError(
                f"stored version {meta.version} does not match the content ({loaded.trust.version})"
            )
        if not meta.version:  # written by hand (nats kv put): describe it from its content
            meta = replace(Meta.of(loaded, source="kv"), loaded_at="", revision=self.revision)
        return loaded, meta


@dataclass(frozen=True)
class SourceState:
    """What was last fetched from the configured source (key ``source``)."""

    location: str
    sha256: str
    generated_at: str = ""
    etag: str = ""
    last_modified: str = ""
    checked_at: str = field(default_factory=now)

    @property
    def validators(self) -> Validators:
        """The HTTP validators for the next conditional GET."""
        return Validators(self.etag, self.last_modified)

    def encode(self) -> bytes:
        """JSON bytes."""
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def decode(cls, data: bytes) -> SourceState | None:
        """Parse; None when the value is not a state this version understands."""
        try:
            return cls(**json.loads(data))
        except (ValueError, TypeError):
            return None


class TrustStore:
    """Reads, writes and watches the list in the bucket through one NATS connection."""

    def __init__(
        self, nc: NATS, spec: streams.BucketSpec = streams.TRUST_BUCKET, timeout: float = 5.0
    ) -> None:
        self.nc = nc
        self.js = nc.jetstream(timeout=timeout)
        self.spec = spec
        self.timeout = timeout

    async def open(self, *, create: bool) -> None:
        """Make sure the bucket exists: create it (its owner, policy) or fail clearly."""
        if create:
            await streams.ensure_bucket(self.js, self.spec)
            return
        try:
            await self.js.key_value(self.spec.name)
        except BucketNotFoundError:
            raise UnavailableError(
                f"bucket {self.spec.name} does not exist: start policy, which creates it, then run"
                " `mss trust import`"
            ) from None

    def subject(self, key: str) -> str:
        """Subject of ``key`` in the bucket."""
        return subjects.kv(self.spec.name, key)

    async def _get(self, key: str) -> RawStreamMsg | None:
        try:
            msg = await self.js.get_msg(self.spec.stream, subject=self.subject(key), direct=True)
        except NotFoundError:
            return None
        if msg.headers and msg.headers.get(_KV_OPERATION) in ("DEL", "PURGE"):
            return None
        return msg

    async def current(self) -> Stored | None:
        """The latest revision of ``current`` (None when there is none)."""
        msg = await self._get(subjects.TRUST_LIST_KEY)
        if msg is None or msg.seq is None:
            return None
        return Stored(msg.data or b"", dict(msg.headers or {}), msg.seq)

    async def publish(self, loaded: Loaded, source: str, *, previous: Stored | None) -> Meta:
        """Store a validated list as the new ``current``, unless a writer changed it since ``previous``.

        Raises RevisionConflict when ``current`` moved on, DataError when the list exceeds what one
        NATS message can carry.
        """
        if len(loaded.data) > self.nc.max_payload:
            raise DataError(
                f"list of {len(loaded.data)} bytes exceeds the NATS max_payload ({self.nc.max_payload})"
            )
        old = Meta.from_headers(previous.headers, previous.revision) if previous is not None else None
        meta = Meta.of(loaded, source, old.version if old is not None else "")
        headers = meta.headers()
        headers[Header.EXPECTED_LAST_SUBJECT_SEQUENCE] = str(previous.revision if previous else 0)
        try:
            ack = await self.js.publish(self.subject(subjects.TRUST_LIST_KEY), loaded.data, headers=headers)
        except APIError as exc:
            if exc.err_code in _WRONG_LAST_SEQUENCE:
                raise RevisionConflict("the allowed-domain list was changed concurrently") from exc
            raise
        return replace(meta, revision=ack.seq)

    async def source_state(self) -> SourceState | None:
        """What the replicas last fetched from the source."""
        msg = await self._get(subjects.TRUST_SOURCE_KEY)
        return SourceState.decode(msg.data or b"") if msg is not None else None

    async def save_source_state(self, state: SourceState) -> None:
        """Record what was fetched from the source."""
        await self.js.publish(self.subject(subjects.TRUST_SOURCE_KEY), state.encode())

    async def watch(
        self, on_revision: Callable[[Stored], Awaitable[object]]
    ) -> Callable[[], Awaitable[None]]:
        """Call ``on_revision`` with the latest ``current`` and every later one; return the stopper."""

        async def deliver(msg: Msg) -> None:
            headers = msg.headers or {}
            if headers.get(_KV_OPERATION) in ("DEL", "PURGE"):
                return
            try:
                await on_revision(Stored(msg.data, dict(headers), msg.metadata.sequence.stream))
            except Exception:  # a watcher that dies would silently freeze the list
                log.exception("allowed-domain list watcher failed on a revision")

        subscription = await self.js.subscribe(
            self.subject(subjects.TRUST_LIST_KEY),
            stream=self.spec.stream,
            cb=deliver,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
        )
        return subscription.unsubscribe
