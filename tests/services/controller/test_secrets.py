"""The controller may read only the certificate Secrets the chart lists: a Secret it is forbidden to
read counts as missing (the tenant's status says so) instead of stopping the reconciliation."""

from __future__ import annotations

import pytest
from kubernetes.client import ApiException
from mss.controller.kube import KubernetesTenants


class Core:
    """A CoreV1Api that holds some Secrets and forbids reading others."""

    def __init__(self, present: set[str], forbidden: set[str]) -> None:
        self.present, self.forbidden = present, forbidden

    def read_namespaced_secret(self, name: str, namespace: str) -> dict[str, str]:
        if name in self.forbidden:
            raise ApiException(status=403, reason="Forbidden")
        if name not in self.present:
            raise ApiException(status=404, reason="Not Found")
        return {"name": name, "namespace": namespace}


def tenants(core: Core) -> KubernetesTenants:
    found = object.__new__(KubernetesTenants)  # no cluster configuration is loaded
    found.core, found.namespace, found._error = core, "mss", ApiException
    return found


@pytest.mark.parametrize(
    ("name", "exists"), [("dpi-tls", True), ("absent-tls", False), ("mss-admin-tokens", False)]
)
def test_only_readable_secrets_exist(name: str, exists: bool) -> None:
    core = Core(present={"dpi-tls", "mss-admin-tokens"}, forbidden={"mss-admin-tokens"})
    assert tenants(core).secret_exists(name) is exists


def test_another_api_error_is_raised() -> None:
    class Broken(Core):
        def read_namespaced_secret(self, name: str, namespace: str) -> dict[str, str]:
            raise ApiException(status=500, reason="Internal Server Error")

    with pytest.raises(ApiException):
        tenants(Broken(set(), set())).secret_exists("dpi-tls")
