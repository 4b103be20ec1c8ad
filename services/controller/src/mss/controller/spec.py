"""The MssTenant resource (``mss.sante.fr/v1alpha1``, namespaced): an establishment, its domains,
its mailboxes and the Secrets holding its certificates, as the operator declares them. The CRD's
OpenAPI schema (``charts/mss/crds/msstenant.yaml``) and these models accept the same objects
(checked by tests/services/controller/test_crd.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

GROUP = "mss.sante.fr"
VERSION = "v1alpha1"
PLURAL = "msstenants"
KIND = "MssTenant"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Domain(_Spec):
    """A domain: mailboxes hosted by mss (saas) or relayed to the establishment's server (proxy)."""

    name: Annotated[str, Field(pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")]
    mode: Literal["saas", "proxy"]
    smarthost: Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")] | None = None
    smarthost_tls: Literal["encrypt", "verify", "none"] = Field(default="encrypt", alias="smarthostTls")

    @model_validator(mode="after")
    def _smarthost_for_proxy(self) -> Domain:
        if (self.mode == "proxy") != (self.smarthost is not None):
            raise ValueError("a smarthost is required in proxy mode and refused in saas mode")
        return self


class Mailbox(_Spec):
    """A mailbox (BAL): personal, organisational, applicative or practice (CAB)."""

    address: Annotated[str, Field(pattern=r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[a-z0-9.-]+\.[a-z]{2,63}$")]
    type: Literal["PER", "ORG", "APP", "CAB"]
    display_name: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, alias="displayName"
    )
    owner_rpps: Annotated[str, Field(pattern=r"^[0-9]{11}$")] | None = Field(default=None, alias="ownerRpps")
    quota_bytes: Annotated[int, Field(ge=0)] | None = Field(default=None, alias="quotaBytes")
    certificate_dn: Annotated[str, Field(min_length=3, max_length=1000)] | None = Field(
        default=None, alias="certificateDn"
    )

    def fields(self) -> dict[str, object]:
        """The changeable fields it sets, named as the directory's admin API names them."""
        names = ("display_name", "owner_rpps", "quota_bytes", "certificate_dn")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


class TenantSpec(_Spec):
    """What the operator declares."""

    establishment: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    finess: Annotated[str, Field(pattern=r"^[0-9A-B]{9}$")] | None = None
    domains: list[Domain] = Field(default_factory=list)
    mailboxes: list[Mailbox] = Field(default_factory=list)
    certificate_secrets: list[Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]] = Field(
        default_factory=list, alias="certificateSecrets"
    )

    @model_validator(mode="after")
    def _mailboxes_in_its_domains(self) -> TenantSpec:
        names = {d.name for d in self.domains}
        outside = sorted(m.address for m in self.mailboxes if m.address.split("@", 1)[1] not in names)
        if outside:
            raise ValueError(f"mailboxes outside the establishment's domains: {', '.join(outside)}")
        return self
