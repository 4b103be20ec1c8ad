"""Replies ingress builds: one line, within RFC 5321's 512 octets, whatever the input."""

from __future__ import annotations

from mss.ingress.replies import refused_whole


def test_the_refusal_names_every_outside_recipient_that_fits_and_counts_the_rest() -> None:
    assert refused_whole(["a@x.fr", "b@y.fr"]) == (
        "550 5.7.1 Message refused: recipients outside the MSSante trust space: <a@x.fr>, <b@y.fr>"
    )
    many = [f"{'p' * 60}{n}@outside.example" for n in range(50)]
    reply = refused_whole(many)
    assert len(reply) + 2 <= 512
    assert reply.endswith(" more")
    assert f"<{many[0]}>" in reply
