"""Search keys: lowercase, unaccented, only ``[a-z0-9 ]``, single spaces.

"Lefèvre-Dupré", "LEFEVRE DUPRE" and "lefevre  dupre" all give ``lefevre dupre``, so a prefix of the
key of a query is a prefix range of the stored keys (compared bytewise, ``COLLATE "C"``). Letters
outside Latin that have no ASCII base are dropped (become spaces).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

_LIGATURES = {
    "œ": "oe",
    "æ": "ae",
    "ß": "ss",
    "ø": "o",
    "đ": "d",
    "ð": "d",
    "ł": "l",
    "\u0131": "i",
    "þ": "th",
}
KEY_END = "~"
"""Sorts after every character a key may hold: ``key <= k < prefix + KEY_END`` is a prefix range."""


def _fold(char: str) -> str:
    """The ASCII letters and digits of one lowercase character, or a space."""
    if char in _LIGATURES:
        return _LIGATURES[char]
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    base = base.lower()
    return base if base and all(c.isascii() and c.isalnum() for c in base) else " "


def _table() -> dict[int, str]:
    table = {code: " " for code in range(128) if not chr(code).isalnum()}
    table.update({code: _fold(chr(code)) for code in range(128, 0x250)})
    return table


_TABLE = _table()


@lru_cache(maxsize=1 << 17)
def search_key(text: str) -> str:
    """The search key of ``text`` (a name, a label, a city, or a query)."""
    if not text:
        return ""
    folded = text.lower().translate(_TABLE)
    if not folded.isascii():
        folded = "".join(c if c.isascii() else _fold(c) for c in folded)
    return " ".join(folded.split())


def prefix_range(key: str) -> tuple[str, str]:
    """(low, high) such that ``low <= k < high`` holds for the keys ``k`` starting with ``key``."""
    return key, key + KEY_END
