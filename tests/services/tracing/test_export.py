"""The CSV of an audit export: text a sender controls (a subject, an address, a remote reply) never
becomes a spreadsheet formula."""

from __future__ import annotations

import csv
import io

import pytest
from mss.tracing.export import _csv

HOSTILE = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_cell_that_would_be_a_formula_is_shown_as_text(text: str) -> None:
    timelines = [
        {"message_id": "01X", "events": [{"at": "2026-12-04T10:00:00Z", "reason": text, "attempt": -1}]}
    ]
    header, row = csv.reader(io.StringIO(_csv(timelines).decode()))
    values = dict(zip(header, row, strict=True))
    assert values["reason"] == "'" + text
    assert values["attempt"] == "-1"  # a number stays a number


def test_ordinary_text_and_numbers_are_unchanged() -> None:
    timelines = [{"message_id": "01X", "events": [{"reason": "550 5.7.1 refused", "recipient": "a@b.fr"}]}]
    header, row = csv.reader(io.StringIO(_csv(timelines).decode()))
    values = dict(zip(header, row, strict=True))
    assert (values["reason"], values["recipient"]) == ("550 5.7.1 refused", "a@b.fr")
