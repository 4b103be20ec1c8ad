"""Password hashes: salted, slow, self-describing, and strict about what they read."""

from __future__ import annotations

import pytest
from mss.core.errors import DataError
from mss.core.passwords import Cost, decoy, hash_password, needs_rehash, verify_password

FAST = Cost(log2_n=10)


def test_a_hash_verifies_its_password_only() -> None:
    stored = hash_password("correct horse battery", FAST)
    assert verify_password(stored, b"correct horse battery")
    assert not verify_password(stored, b"correct horse batterY")
    assert not verify_password(stored, b"")


def test_two_hashes_of_one_password_differ_by_their_salt() -> None:
    first, second = hash_password("same password here", FAST), hash_password("same password here", FAST)
    assert first != second
    assert first.split("$")[3] != second.split("$")[3]


def test_the_cost_travels_with_the_hash() -> None:
    stored = hash_password("a password of note", FAST)
    assert stored.startswith("$scrypt$ln=10,r=8,p=1$")
    assert not needs_rehash(stored, FAST)
    assert needs_rehash(stored, Cost(log2_n=11))
    assert verify_password(stored, b"a password of note")  # verified with its own cost


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plaintext",
        "$bcrypt$ln=10,r=8,p=1$c2FsdA$aGFzaA",
        "$scrypt$ln=10,r=8$c2FsdA$aGFzaA",
        "$scrypt$ln=40,r=8,p=1$c2FsdA$aGFzaA",  # absurd cost: refused, not computed
        "$scrypt$ln=10,r=8,p=1$not base64!$aGFzaA",
    ],
)
def test_malformed_hashes_are_refused_clearly(stored: str) -> None:
    with pytest.raises(DataError):
        verify_password(stored, b"anything")


def test_an_empty_password_is_never_hashed() -> None:
    with pytest.raises(DataError):
        hash_password("", FAST)


def test_the_decoy_matches_no_likely_password() -> None:
    stored = decoy(FAST)
    assert stored == decoy(FAST)  # computed once
    assert not verify_password(stored, b"")
    assert not verify_password(stored, b"password")
