"""What the admin API accepts and returns; validation errors name the field and the rule."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Rpps = Annotated[str, Field(pattern=r"^[0-9]{11}$", description="RPPS number, 11 digits")]
Finess = Annotated[str, Field(pattern=r"^[0-9A-B]{9}$", description="FINESS number, 9 characters")]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="Lowercase id: a-z 0-9 -")]
DomainName = Annotated[
    str,
    Field(
        pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        max_length=253,
        description="Lowercase domain name",
    ),
]
Address = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        max_length=254,
        description="Mailbox address, lowercase",
    ),
]
Text = Annotated[str, Field(min_length=1, max_length=200)]
MailboxType = Literal["PER", "ORG", "APP", "CAB"]
Status = Literal["active", "suspended", "deleted"]


class Strict(BaseModel):
    """Unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class GhtIn(Strict):
    """The GHT of this installation."""

    name: Text


class TenantIn(Strict):
    """An establishment of the GHT."""

    id: Slug
    name: Text
    finess: Finess | None = None


class TenantRules(Strict):
    """What an establishment changes about itself."""

    name: Text | None = None
    mixed_recipients: Literal["refuse_whole", "deliver_valid"] | None = Field(
        default=None,
        description="A message for trust-space and outside recipients: refused whole, or delivered to "
        "the trust-space recipients only",
    )
    max_message_bytes: Annotated[int, Field(gt=0)] | None = Field(
        default=None, description="Largest message its people send and its mailboxes receive, bytes"
    )
    suspended_reply: Literal["permanent", "temporary"] | None = Field(
        default=None,
        description="Mail for a suspended mailbox: refused permanently (550) or temporarily (450)",
    )
    strict_national: bool | None = Field(
        default=None, description="Its people may only write to other operators' addresses listed nationally"
    )
    rate_per_sender: Annotated[int, Field(ge=0)] | None = Field(
        default=None,
        description="Messages per rate period one of its senders may send (0: the operator's default)",
    )
    malformed_xdm: Literal["flag", "refuse"] | None = Field(
        default=None,
        description="A malformed IHE XDM archive: flagged in the audit trail, or the message refused (554)",
    )
    audit_retention_months: Annotated[int, Field(ge=1, le=1200)] | None = Field(
        default=None, description="Months its audit trail is kept (then purged, unless on legal hold)"
    )
    content_retention_days: Annotated[int, Field(ge=0, le=36500)] | None = Field(
        default=None,
        description="Days hosted messages are kept (then deleted unless on legal hold); 0: until deleted",
    )
    legal_hold: bool | None = Field(
        default=None, description="Suspend both retentions (a reason is required to place a hold)"
    )
    legal_hold_reason: Text | None = Field(default=None, description="Why the establishment is on hold")

    @model_validator(mode="after")
    def _hold_has_a_reason(self) -> TenantRules:
        if self.legal_hold and not self.legal_hold_reason:
            raise ValueError("a legal hold needs legal_hold_reason")
        return self


class DomainIn(Strict):
    """A domain of an establishment: mailboxes hosted by us (saas) or relayed to its server (proxy)."""

    name: DomainName
    mode: Literal["saas", "proxy"]
    smarthost: Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")] | None = Field(
        default=None, description="proxy mode: the establishment's server, host:port"
    )
    smarthost_tls: Literal["encrypt", "verify", "none"] = Field(
        default="encrypt",
        description="proxy mode: STARTTLS required (encrypt), with the certificate checked (verify), or plain"
        " SMTP for a link protected otherwise (none)",
    )

    @model_validator(mode="after")
    def _smarthost_for_proxy(self) -> DomainIn:
        if (self.mode == "proxy") != (self.smarthost is not None):
            raise ValueError("a smarthost is required in proxy mode and refused in saas mode")
        return self


class MailboxFields(Strict):
    """The changeable fields of a mailbox (R-BAL-2)."""

    display_name: Text | None = None
    red_list: bool | None = Field(default=None, description="listeRouge: never published in the directory")
    preferred_rank: Annotated[int, Field(ge=1, le=99)] | None = None
    description: Text | None = Field(default=None, description="ORG, APP, CAB")
    service: Text | None = Field(default=None, description="attachment service: ORG, APP")
    operational_owner: Text | None = Field(default=None, description="ORG, APP; not public")
    owner_rpps: Rpps | None = Field(default=None, description="PER, CAB: the owner's RPPS")
    structure_finess: Finess | None = Field(default=None, description="ORG, APP: FINESS of the structure")
    quota_bytes: Annotated[int, Field(ge=0)] | None = None
    max_message_bytes: Annotated[int, Field(gt=0)] | None = None
    certificate_dn: Annotated[str, Field(min_length=3, max_length=1000)] | None = Field(
        default=None, description="APP: subject DN of the certificate it sends with"
    )


class MailboxIn(MailboxFields):
    """A new mailbox: its address and type are final."""

    address: Address
    type: MailboxType


class StatusChange(Strict):
    """A lifecycle transition: active ⇄ suspended, either → deleted (final)."""

    status: Status
    reason: Annotated[str, Field(min_length=1, max_length=500)]


# Which fields each mailbox type may carry (R-BAL-2).
ALLOWED_BY_TYPE: dict[str, frozenset[str]] = {
    "owner_rpps": frozenset({"PER", "CAB"}),
    "description": frozenset({"ORG", "APP", "CAB"}),
    "service": frozenset({"ORG", "APP"}),
    "operational_owner": frozenset({"ORG", "APP"}),
    "structure_finess": frozenset({"ORG", "APP"}),
    "certificate_dn": frozenset({"APP"}),
}
