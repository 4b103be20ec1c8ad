"""Message bodies in JetStream: read back exactly, and a missing or altered one is a DataError."""

from __future__ import annotations

import nats
import pytest
from mss.bus.blobs import delete_blob, get_blob, put_blob
from mss.core.errors import DataError

pytestmark = pytest.mark.integration


async def test_a_body_reads_back_and_a_deleted_or_altered_one_is_a_data_error(bus: nats.NATS) -> None:
    js = bus.jetstream()
    ref = await put_blob(js, "01BLOB", b"Subject: t\r\n\r\nBonjour.\r\n", 5)
    assert await get_blob(js, ref) == b"Subject: t\r\n\r\nBonjour.\r\n"
    altered = type(ref)()
    altered.CopyFrom(ref)
    altered.sha256 = "0" * 64
    with pytest.raises(DataError, match="does not match"):
        await get_blob(js, altered)
    await delete_blob(js, ref)
    with pytest.raises(DataError, match="is missing"):
        await get_blob(js, ref)
