"""Contracts change by adding fields only: old readers keep what they do not know."""

from __future__ import annotations

import pytest
from mss.bus.codec import decode, encode
from mss.core.errors import ContractError
from mss.v1 import BlobRef, DeliveryRequested, MessageReceived, Recipient, Route, RouteKind


def test_round_trip() -> None:
    event = MessageReceived(
        message_id="01ABC",
        mail_from="a@b.fr",
        recipients=[Recipient(address="c@d.fr", route=Route(kind=RouteKind.ROUTE_KIND_PEER))],
        body=BlobRef(sha256="00" * 32, size=3, location="jetstream:MSS_BLOBS:1"),
        mss_headers={"X-MSS-INS": "O"},
    )
    assert decode(MessageReceived, encode(event)) == event


def test_unknown_fields_survive_a_reader_that_does_not_know_them() -> None:
    newer = DeliveryRequested(message_id="01ABC", previous_attempts=3)
    older_view = decode(MessageReceived, encode(newer))  # same field 1, unknown field 6
    assert older_view.message_id == "01ABC"
    assert decode(DeliveryRequested, encode(older_view)).previous_attempts == 3


def test_garbage_is_a_contract_error() -> None:
    with pytest.raises(ContractError):
        decode(MessageReceived, b"\xff\xff\xff")
