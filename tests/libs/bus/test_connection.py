"""How components connect to NATS: their own inbox, their key, the CA; URLs logged without secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from mss.bus.connection import client_options, without_secrets


@pytest.mark.parametrize(
    ("urls", "logged"),
    [
        ("tls://127.0.0.1:4222", "tls://127.0.0.1:4222"),
        ("nats://ingress:s3cret@nats.mss.svc:4222", "nats://nats.mss.svc:4222"),
        ("tls://a:b@n1:4222,tls://n2:4222", "tls://n1:4222,tls://n2:4222"),
        ("nats://token@n1:4222", "nats://n1:4222"),
    ],
)
def test_a_url_is_logged_without_its_credentials(urls: str, logged: str) -> None:
    assert without_secrets(urls) == logged


def test_replies_come_to_the_identitys_own_inbox_and_the_seed_file_is_named() -> None:
    options = client_options("policy", Path("/run/mss/policy.nk"), None)
    assert options == {"inbox_prefix": "_INBOX.policy", "nkeys_seed": "/run/mss/policy.nk"}
    assert client_options("ops", None, None) == {"inbox_prefix": "_INBOX.ops"}  # anonymous: refused by mss
