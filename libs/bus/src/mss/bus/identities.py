"""Who connects to NATS: one identity per component, each with its own nkey and permissions.

The permissions of each identity are drawn from the subject catalogue (:mod:`mss.bus.subjects`
says who asks and who answers each request, :mod:`mss.bus.streams` who writes to, reads from and
consumes each stream) by :mod:`mss.bus.permissions`.
"""

from __future__ import annotations

INGRESS = "ingress"
POLICY = "policy"
DIRECTORY = "directory"
STORAGE = "storage"
EGRESS = "egress"
TRACING = "tracing"
SERVICES = (INGRESS, POLICY, DIRECTORY, STORAGE, EGRESS, TRACING)
"""The six services of the message path; each publishes audit events under its own name."""

OPS = "ops"
"""The ``mss`` command: an operator's actions (queue, trust-list import, audit verification), and the
only identity that may delete or purge (never the audit anchors)."""
IMAP = "imap"
WEBMAIL = "webmail"
GATEWAYS = (IMAP, WEBMAIL)
"""Components that act for people (mail clients, browsers) through storage's and the directory's
requests, with the token the directory signed at that person's sign-in."""

ALL = (*SERVICES, OPS, *GATEWAYS)
"""Every identity the server knows. (The Kubernetes controller talks to the directory's admin API
only: it has no NATS identity.)"""


def inbox_prefix(identity: str) -> str:
    """Where the replies to an identity's requests arrive: only that identity may subscribe there."""
    return f"_INBOX.{identity}"
