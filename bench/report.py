"""Aggregate runs (median over repeats), print the table and ratios, write the JSON file."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import asdict, fields
from pathlib import Path

from runners import RunResult

PATH_ORDER = {"sink": 0, "postfix": 1, "target": 2}
TOOL_ORDER = {"smtp-source": 0, "driver": 1}
NUMERIC = ("accept_s", "accepted_rate", "deliver_s", "delivered_rate", "p50_ms", "p90_ms", "p99_ms", "max_ms")
Key = tuple[str, str, str]


def _key(run: RunResult) -> Key:
    return (run.size, run.path, run.tool)


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize(runs: list[RunResult]) -> list[RunResult]:
    """One row per (size, path, tool) whose numeric fields are medians over the repeats."""
    groups: dict[Key, list[RunResult]] = {}
    for run in runs:
        groups.setdefault(_key(run), []).append(run)
    rows = []
    for group in groups.values():
        row = RunResult(**asdict(group[0]))
        row.runs = len(group)
        for name in NUMERIC:
            setattr(row, name, _median(getattr(r, name) for r in group))
        rows.append(row)
    return sorted(rows, key=lambda r: (r.wire_bytes, PATH_ORDER.get(r.path, 9), TOOL_ORDER.get(r.tool, 9)))


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def ratios(rows: list[RunResult]) -> list[dict[str, object]]:
    """target/postfix and postfix/sink ratios of accepted and delivered rates, per size+tool."""
    by_key = {_key(r): r for r in rows}
    out: list[dict[str, object]] = []
    for (size, path, tool), row in by_key.items():
        if path == "sink":
            continue
        ref_path = "postfix" if path == "target" else "sink"
        ref = by_key.get((size, ref_path, tool))
        if ref is None:
            continue
        out.append(
            {
                "size": size,
                "tool": tool,
                "ratio": f"{path}/{ref_path}",
                "accepted": _ratio(row.accepted_rate, ref.accepted_rate),
                "delivered": _ratio(row.delivered_rate, ref.delivered_rate),
                "p50": _ratio(row.p50_ms, ref.p50_ms),
                "p99": _ratio(row.p99_ms, ref.p99_ms),
            }
        )
    return out


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(rows: list[RunResult]) -> str:
    header = (
        "path",
        "tool",
        "size",
        "sess",
        "msgs",
        "accepted msg/s",
        "delivered msg/s",
        "p50 ms",
        "p99 ms",
        "runs",
    )
    lines = [header]
    for r in rows:
        lines.append(
            (
                r.path,
                r.tool,
                r.size,
                str(r.sessions),
                str(r.messages),
                _fmt(r.accepted_rate),
                _fmt(r.delivered_rate),
                _fmt(r.p50_ms, 2),
                _fmt(r.p99_ms, 2),
                str(r.runs),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    left = 3  # the first three columns are text, the rest numbers
    text = [
        "  ".join(
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def format_ratios(items: list[dict[str, object]]) -> str:
    lines = []
    # target/postfix first (the headline), then postfix/sink; each in table order
    for item in sorted(items, key=lambda i: i["ratio"] != "target/postfix"):
        parts = [
            f"{name} x{v:.2f}"
            for name in ("accepted", "delivered", "p50", "p99")
            if isinstance(v := item[name], float)
        ]
        lines.append(f"ratio {item['ratio']:<14} {item['size']:>5} {item['tool']:<11} " + ", ".join(parts))
    return "\n".join(lines)


def write_json(
    path: Path,
    meta: dict[str, object],
    runs: list[RunResult],
    rows: list[RunResult],
    ratio_items: list[dict[str, object]],
) -> None:
    names = [f.name for f in fields(RunResult)]
    doc = {
        "meta": meta,
        "fields": names,
        "runs": [asdict(r) for r in runs],
        "medians": [asdict(r) for r in rows],
        "ratios": ratio_items,
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
