"""Test message generation: a realistic MIME message (text part + base64 PDF-like attachment).

Files are written with LF line endings on purpose: ``smtp-source -F`` appends CRLF to every
line it reads (a CRLF file would go out as ``...\\r\\r\\n``), and it dot-stuffs lines starting
with ".". :func:`wire_payload` produces the equivalent CRLF, dot-stuffed DATA payload for the
Python driver. Sizes are measured on the wire (CRLF line endings) and hit the target within a
few bytes. Every message carries the same Message-ID; neither Postfix nor the sink cares.
"""

from __future__ import annotations

import base64
import random
from email.utils import formatdate
from pathlib import Path

BOUNDARY = "=_mss_bench_0123456789"
B64_LINE = 76  # RFC 2045 maximum line length for base64 bodies


def parse_size(text: str) -> int:
    """Parse ``10k``, ``1m``, ``2048`` (KiB/MiB multiples) into bytes."""
    value = text.strip().lower().removesuffix("b")
    factor = 1
    if value.endswith("k"):
        factor, value = 1024, value[:-1]
    elif value.endswith("m"):
        factor, value = 1024 * 1024, value[:-1]
    if not value.isdigit() or int(value) <= 0:
        raise ValueError(f"bad message size {text!r} (examples: 10k, 1m, 4096)")
    return int(value) * factor


def size_label(size: int) -> str:
    """Human label for a byte size: 10KB, 1MB, 4096B."""
    if size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)}MB"
    if size % 1024 == 0:
        return f"{size // 1024}KB"
    return f"{size}B"


def _wire_len(lines: list[str]) -> int:
    return sum(len(line) + 2 for line in lines)


def _head_lines(sender: str, recipient: str, label: str) -> list[str]:
    return [
        f"From: Bench CHU Demo <{sender}>",
        f"To: <{recipient}>",
        f"Subject: Compte rendu de consultation (bench {label})",
        f"Date: {formatdate(usegmt=True)}",
        f"Message-ID: <bench-{label.lower()}@chu-demo.mssante.fr>",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{BOUNDARY}"',
        "",
        f"--{BOUNDARY}",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 7bit",
        "",
        "Bonjour,",
        "",
        "Veuillez trouver ci-joint le compte rendu de consultation du patient.",
        "Message genere par le banc de mesure SMTP.",
        "",
        f"--{BOUNDARY}",
        'Content-Type: application/pdf; name="compte-rendu.pdf"',
        "Content-Transfer-Encoding: base64",
        'Content-Disposition: attachment; filename="compte-rendu.pdf"',
        "",
    ]


def _attachment_lines(budget: int, seed: int) -> list[str]:
    """Base64 lines (<= 76 chars) whose wire size (with CRLF) is ``budget`` bytes, -3..0."""
    full_lines, rest = divmod(max(budget, 0), B64_LINE + 2)
    tail_chars = max(rest - 2, 0) // 4 * 4
    raw_len = full_lines * (B64_LINE // 4 * 3) + tail_chars // 4 * 3
    text = base64.b64encode(random.Random(seed).randbytes(raw_len)).decode("ascii")
    return [text[i : i + B64_LINE] for i in range(0, len(text), B64_LINE)]


def build_message(size: int, sender: str, recipient: str, seed: int = 1) -> list[str]:
    """Message lines (no line terminators) totalling about ``size`` bytes on the wire."""
    label = size_label(size)
    head = _head_lines(sender, recipient, label)
    closing = ["", f"--{BOUNDARY}--"]
    budget = size - _wire_len(head) - _wire_len(closing)
    if budget < 0:
        raise ValueError(f"message size {size} is smaller than the headers")
    return head + _attachment_lines(budget, seed) + closing


def write_message(path: Path, size: int, sender: str, recipient: str) -> int:
    """Write the LF-terminated file for ``smtp-source -F``; return its size on the wire."""
    lines = build_message(size, sender, recipient)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="ascii")
    return _wire_len(lines)


def wire_payload(path: Path) -> bytes:
    """DATA payload for the driver: CRLF lines, dot-stuffed, ending with CRLF.CRLF."""
    lines = path.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    stuffed = [b"." + line if line.startswith(b".") else line for line in lines]
    return b"".join(line + b"\r\n" for line in stuffed) + b".\r\n"
