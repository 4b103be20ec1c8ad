"""Protobuf encoding and decoding of bus payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp
from mss.core.errors import ContractError

M = TypeVar("M", bound=Message)


def decode(kind: type[M], data: bytes) -> M:
    """Parse ``data`` as a ``kind`` message; unknown fields are kept, bad bytes raise ContractError."""
    message = kind()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise ContractError(f"payload is not a valid {kind.__name__}: {exc}") from exc
    return message


def encode(message: Message) -> bytes:
    """Serialise a message."""
    return message.SerializeToString()


def now_timestamp() -> Timestamp:
    """The current time as a protobuf Timestamp."""
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC))
    return stamp
