"""Message bodies in the MSS_BLOBS stream: one message per body, addressed by a BlobRef."""

from __future__ import annotations

import hashlib

from mss.bus import headers as hdr
from mss.bus import streams, subjects
from mss.core.errors import DataError
from mss.v1 import BlobRef
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

_SCHEME = "jetstream"


async def put_blob(js: JetStreamContext, message_id: str, content: bytes, timeout: float) -> BlobRef:
    """Store ``content`` durably (JetStream ack awaited) and return its reference."""
    ack = await js.publish(
        subjects.blob(message_id), content, headers={hdr.MSG_ID: f"blob:{message_id}"}, timeout=timeout
    )
    return BlobRef(
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        location=f"{_SCHEME}:{ack.stream}:{ack.seq}",
    )


async def get_blob(js: JetStreamContext, ref: BlobRef) -> bytes:
    """Read a body back; raise DataError when it is missing or does not match its reference."""
    scheme, _, rest = ref.location.partition(":")
    stream, _, seq = rest.partition(":")
    if scheme != _SCHEME or stream != streams.BLOBS.name or not seq.isdigit():
        raise DataError(f"unknown blob location {ref.location!r}")
    try:
        msg = await js.get_msg(stream, seq=int(seq), direct=True)
    except NotFoundError as exc:
        raise DataError(f"blob {ref.location} is missing (deleted or expired)") from exc
    content = msg.data or b""
    if len(content) != ref.size or hashlib.sha256(content).hexdigest() != ref.sha256:
        raise DataError(f"blob {ref.location} does not match its reference")
    return content


async def delete_blob(js: JetStreamContext, ref: BlobRef) -> None:
    """Remove a body that will never be used (e.g. its event could not be published)."""
    _, _, rest = ref.location.partition(":")
    stream, _, seq = rest.partition(":")
    await js.delete_msg(stream, int(seq))
