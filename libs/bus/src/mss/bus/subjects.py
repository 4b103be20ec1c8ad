"""Every NATS subject of mss, in one place. Pattern: ``mss.v1.<producer>.<event>``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mss.bus import identities as who

PREFIX = "mss.v1"

# Request/reply (core NATS, queue groups).
RCPT_CHECK = f"{PREFIX}.policy.rcpt_check"
"""Ingress asks policy about one recipient: RecipientCheckRequest → RecipientCheckReply."""
SENDER_CHECK = f"{PREFIX}.policy.sender_check"
"""Ingress asks policy about a peer operator's MAIL FROM: SenderCheckRequest → SenderCheckReply."""
OPERATOR_LOOKUP = f"{PREFIX}.policy.operator_lookup"
"""Egress asks policy which certificates the list names for a domain: OperatorLookupRequest → Reply."""
CONTENT_CHECK = f"{PREFIX}.policy.content_check"
"""Ingress has policy check a stored body at end of DATA: ContentCheckRequest → ContentCheckReply."""
DIRECTORY_LOOKUP = f"{PREFIX}.directory.lookup"
"""Policy asks directory about one address: AddressLookupRequest → AddressLookupReply."""
RESOLVE = f"{PREFIX}.directory.resolve"
"""Is an address in the trust space, and why (registry, national mirror, list): ResolveRequest → Reply."""
SEARCH = f"{PREFIX}.directory.search"
"""Address completion over our registry and the national mirror: SearchRequest → SearchReply."""
MAILBOXES = f"{PREFIX}.directory.mailboxes"
"""Storage asks which mailboxes an identity acts for: MailboxesRequest → MailboxesReply."""
AUTHENTICATE = f"{PREFIX}.directory.authenticate"
"""Ingress has directory check SMTP AUTH credentials: AuthenticateRequest → AuthenticateReply."""
MAILBOX_USAGE = f"{PREFIX}.storage.mailbox_usage"
"""Policy asks how full a hosted mailbox is: MailboxUsageRequest → MailboxUsageReply."""
MAILBOX_LIST = f"{PREFIX}.storage.mailbox_list"
"""List a hosted mailbox: MailboxListRequest → MailboxListReply."""
MESSAGE_FETCH = f"{PREFIX}.storage.message_fetch"
"""Fetch one stored message: MessageFetchRequest → MessageFetchReply."""
MESSAGE_UPDATE = f"{PREFIX}.storage.message_update"
"""Set or clear flags of a stored message, move it: MessageUpdateRequest → MessageUpdateReply."""
MESSAGE_DELETE = f"{PREFIX}.storage.message_delete"
"""Delete a stored message: MessageDeleteRequest → MessageDeleteReply."""

AUDIT_VERIFY = f"{PREFIX}.ops.audit_verify"
"""Recompute the audit trail's hash chains: AuditVerifyRequest → AuditVerifyReply (served by tracing)."""
QUEUE = f"{PREFIX}.ops.queue"
"""An operator lists or acts on deferred deliveries: QueueRequest → QueueReply (served by egress;
not under ``egress.>``, which the work stream captures)."""

# Work subjects (stream MSS_WORK).
MESSAGE_RECEIVED = f"{PREFIX}.ingress.received"
"""MessageReceived, published by ingress before it answers 250."""
DELIVER_LOCAL = f"{PREFIX}.policy.deliver.local"
"""DeliveryRequested for hosted (SaaS) mailboxes, consumed by storage."""
DELIVER_REMOTE = f"{PREFIX}.policy.deliver.remote"
"""DeliveryRequested for smarthosts and peer operators, consumed by egress."""
REPORT = f"{PREFIX}.egress.report"
"""DeliveryRequested of a delivery status notification, to be routed to the original sender."""

# Deferred deliveries (stream MSS_WORK): one subject per destination and message, so that the
# backlog per destination is read from the stream's subject counts, without reading messages.
RETRY_PREFIX = f"{PREFIX}.egress.retry"
"""A JetStream message schedule: republished to DELIVER_REMOTE when due."""
HELD_PREFIX = f"{PREFIX}.egress.held"
"""Put aside by an operator (`mss queue hold`) until released or cancelled."""


def destination_token(destination: str) -> str:
    """One subject token for a destination "host:port" (host names hold no "_", so it reverses)."""
    token = "".join(c if c.isalnum() or c in "-:[]" else "_" for c in destination.lower())
    return token or "unrouted"


def destination_of(token: str) -> str:
    """The destination a subject token stands for."""
    return token.replace("_", ".")


def retry(destination: str, message_id: str) -> str:
    """Subject of the retry schedule of one message's recipients at one destination."""
    return f"{RETRY_PREFIX}.{destination_token(destination)}.{message_id}"


def held(destination: str, message_id: str) -> str:
    """Subject of one message's recipients at one destination, held by an operator."""
    return f"{HELD_PREFIX}.{destination_token(destination)}.{message_id}"


# Bodies (stream MSS_BLOBS): one subject per message.
BLOB_PREFIX = f"{PREFIX}.blob"


def blob(message_id: str) -> str:
    """Subject holding the body of one message."""
    return f"{BLOB_PREFIX}.{message_id}"


# Quarantine (stream MSS_QUARANTINE): refused infected messages, one subject per message.
QUARANTINE_PREFIX = f"{PREFIX}.quarantine"


def quarantine(message_id: str) -> str:
    """Subject holding one quarantined message."""
    return f"{QUARANTINE_PREFIX}.{message_id}"


# Anchors of the audit trail's hash chains (stream MSS_AUDIT_ANCHORS), by tracing, one subject per
# establishment: AuditAnchor of each moved head, and of each new start a retention purge set.
AUDIT_ANCHOR_PREFIX = f"{PREFIX}.anchor.audit"
AUDIT_PURGE_PREFIX = f"{PREFIX}.anchor.purge"


def _establishment_token(tenant_id: str) -> str:
    """A subject token for an establishment: "_" for none; an id that is not a plain token, hex."""
    if not tenant_id:
        return "_"
    if re.fullmatch(r"[A-Za-z0-9-]+", tenant_id):
        return tenant_id
    return f"x{tenant_id.encode().hex()}"


def audit_anchor(tenant_id: str) -> str:
    """Subject of the anchored heads of one establishment's chain."""
    return f"{AUDIT_ANCHOR_PREFIX}.{_establishment_token(tenant_id)}"


def audit_purge(tenant_id: str) -> str:
    """Subject of the starts that retention purges gave one establishment's chain."""
    return f"{AUDIT_PURGE_PREFIX}.{_establishment_token(tenant_id)}"


# Audit events (stream MSS_AUDIT): one subject per emitting service.
AUDIT_PREFIX = f"{PREFIX}.audit"


def audit(service: str) -> str:
    """Subject of the audit events of one service."""
    return f"{AUDIT_PREFIX}.{service}"


# Queue groups of request/reply responders.
POLICY_QUEUE = who.POLICY
DIRECTORY_QUEUE = who.DIRECTORY
STORAGE_QUEUE = who.STORAGE
EGRESS_QUEUE = who.EGRESS
TRACING_QUEUE = who.TRACING


# Key-Value buckets (streams.BucketSpec): each key is one subject of the bucket's stream.
KV_PREFIX = "$KV"
TRUST_LIST_KEY = "current"
"""Key of the allowed-domain list in force (bucket streams.TRUST_BUCKET): raw XML, Mss-Trust-* headers."""
TRUST_SOURCE_KEY = "source"
"""Key of what policy last fetched from its configured list source (JSON: validators, digest, date)."""


def kv(bucket: str, key: str) -> str:
    """Subject of one key of a Key-Value bucket."""
    return f"{KV_PREFIX}.{bucket}.{key}"


@dataclass(frozen=True)
class Request:
    """A request/reply subject: the one identity that answers it (in a queue group of the same name)
    and the identities that may ask. The answer goes back on the asker's own inbox only."""

    subject: str
    answered_by: str
    asked_by: tuple[str, ...]
    caller_in_subject: bool = False
    """Asked on ``<subject>.<the asker's identity>``, which only that identity may publish to: the
    answer knows who asked from the server's permissions, not from the request (see
    :func:`as_caller`)."""


REQUESTS = (
    Request(RCPT_CHECK, who.POLICY, (who.INGRESS, who.EGRESS)),
    Request(SENDER_CHECK, who.POLICY, (who.INGRESS,)),
    Request(OPERATOR_LOOKUP, who.POLICY, (who.EGRESS, who.DIRECTORY)),
    Request(CONTENT_CHECK, who.POLICY, (who.INGRESS,)),
    Request(DIRECTORY_LOOKUP, who.DIRECTORY, (who.POLICY,)),
    Request(RESOLVE, who.DIRECTORY, (who.POLICY,)),
    Request(SEARCH, who.DIRECTORY, (who.WEBMAIL,)),
    Request(MAILBOXES, who.DIRECTORY, (who.STORAGE,)),
    Request(AUTHENTICATE, who.DIRECTORY, (who.INGRESS, *who.GATEWAYS)),
    Request(MAILBOX_USAGE, who.STORAGE, (who.POLICY, *who.GATEWAYS)),
    Request(MAILBOX_LIST, who.STORAGE, who.GATEWAYS),
    Request(MESSAGE_FETCH, who.STORAGE, who.GATEWAYS),
    Request(MESSAGE_UPDATE, who.STORAGE, who.GATEWAYS),
    Request(MESSAGE_DELETE, who.STORAGE, who.GATEWAYS),
    Request(AUDIT_VERIFY, who.TRACING, (who.OPS,)),
    Request(QUEUE, who.EGRESS, (who.OPS,), caller_in_subject=True),
)
"""Every request/reply subject, who answers and who asks (the NATS permissions come from here)."""


def as_caller(subject: str, identity: str) -> str:
    """Where ``identity`` asks a request whose caller is in the subject."""
    return f"{subject}.{identity}"


def caller_of(request_subject: str, subject: str) -> str:
    """The identity that asked, from the subject a caller-in-subject request arrived on."""
    return request_subject.removeprefix(f"{subject}.")


AUDITED_BY = (*who.SERVICES, *who.GATEWAYS)
"""The identities that emit audit events, each on ``audit(<its name>)`` only: nobody writes another's."""
