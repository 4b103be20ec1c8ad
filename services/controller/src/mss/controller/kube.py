"""The watch loop, the usual Kubernetes way: list every MssTenant and reconcile it, then watch from
the list's resourceVersion; when the watch ends (resync period) or the version has expired (410
Gone), list again. Status is written with the object's resourceVersion as a precondition: on a
conflict (409) the object is read again and reconciled anew. A restart simply lists again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from mss.controller.spec import GROUP, PLURAL, VERSION

log = logging.getLogger(__name__)

RETRY_PAUSE = 5.0
"""Seconds before listing again after the Kubernetes API failed."""

Reconcile = Callable[[dict[str, Any]], dict[str, Any]]
"""An MssTenant object → the status to record."""


class Gone(Exception):
    """The resourceVersion to watch from has expired (HTTP 410)."""


class Conflict(Exception):
    """The object changed since it was read (HTTP 409)."""


class Tenants(Protocol):
    """What the loop needs of the Kubernetes API."""

    def list(self) -> tuple[list[dict[str, Any]], str]:
        """Every object, and the list's resourceVersion."""

    def watch(self, resource_version: str, timeout: float) -> Iterator[tuple[str, dict[str, Any]]]:
        """(event type, object) from ``resource_version`` until ``timeout``; Gone when expired."""

    def get(self, name: str) -> dict[str, Any] | None:
        """One object (None if deleted)."""

    def write_status(self, resource: dict[str, Any], status: dict[str, Any]) -> bool:
        """Replace the status, conditional on the object's resourceVersion: Conflict when it changed,
        False when the object is gone."""


def settle(tenants: Tenants, resource: dict[str, Any], reconcile: Reconcile, attempts: int = 5) -> None:
    """Reconcile one object and record its status, reading it again after each conflict."""
    current: dict[str, Any] | None = resource
    for _ in range(attempts):
        if current is None:
            return  # deleted meanwhile
        try:
            tenants.write_status(current, reconcile(current))
            return  # written, or the object is gone
        except Conflict:
            current = tenants.get(current["metadata"]["name"])
    log.warning(
        "status not written after repeated conflicts", extra={"resource": resource["metadata"]["name"]}
    )


def needs_work(resource: dict[str, Any]) -> bool:
    """A change of spec (generation) not yet reconciled; status updates alone do not count."""
    observed = (resource.get("status") or {}).get("observedGeneration")
    return bool(observed != resource.get("metadata", {}).get("generation"))


def run(
    tenants: Tenants,
    reconcile: Reconcile,
    resync: float,
    stopped: Callable[[], bool],
    beat: Callable[[], None] = lambda: None,
    pause: Callable[[float], None] = time.sleep,
) -> None:
    """Until ``stopped()``: list and reconcile everything, then follow the watch. ``beat`` is told after
    each list and each resource handled (the loop's heartbeat). One resource that fails is logged and
    left for the next pass; a failing API is retried after a pause, never fatal."""
    while not stopped():
        try:
            items, version = tenants.list()
            beat()
            for resource in items:
                _handle(tenants, resource, reconcile, beat)
            for kind, resource in tenants.watch(version, resync):
                if stopped():
                    return
                if kind in ("ADDED", "MODIFIED") and needs_work(resource):
                    _handle(tenants, resource, reconcile, beat)
        except Gone:
            log.info("watch expired: listing again")
        except Exception:
            log.exception("listing or watching MssTenant resources failed; trying again")
            pause(RETRY_PAUSE)


def _handle(
    tenants: Tenants, resource: dict[str, Any], reconcile: Reconcile, beat: Callable[[], None]
) -> None:
    try:
        settle(tenants, resource, reconcile)
    except Exception:
        log.exception(
            "MssTenant not reconciled", extra={"resource": resource.get("metadata", {}).get("name")}
        )
    beat()


class KubernetesTenants:
    """Tenants over the ``kubernetes`` package's CustomObjectsApi, in one namespace."""

    def __init__(self, namespace: str) -> None:
        from kubernetes import client, config, watch  # imported here: loading needs a cluster config

        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        self.api = client.CustomObjectsApi()
        self.core = client.CoreV1Api()
        self.namespace = namespace
        self._watch = watch.Watch
        self._error = client.ApiException

    def list(self) -> tuple[list[dict[str, Any]], str]:
        found = self.api.list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL)
        return list(found.get("items", [])), str(found["metadata"]["resourceVersion"])

    def watch(self, resource_version: str, timeout: float) -> Iterator[tuple[str, dict[str, Any]]]:
        stream = self._watch().stream(
            self.api.list_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            resource_version=resource_version,
            timeout_seconds=int(timeout),
            allow_watch_bookmarks=True,
        )
        try:
            for event in stream:
                if event["type"] == "ERROR":
                    if event["raw_object"].get("code") == 410:
                        raise Gone
                    continue
                yield event["type"], event["object"]
        except self._error as exc:
            if exc.status == 410:
                raise Gone from exc
            raise

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.api.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name
            )
        except self._error as exc:
            if exc.status == 404:
                return None
            raise
        return found

    def write_status(self, resource: dict[str, Any], status: dict[str, Any]) -> bool:
        body = {"metadata": {"resourceVersion": resource["metadata"]["resourceVersion"]}, "status": status}
        try:
            self.api.patch_namespaced_custom_object_status(
                GROUP, VERSION, self.namespace, PLURAL, resource["metadata"]["name"], body
            )
        except self._error as exc:
            if exc.status == 409:
                raise Conflict from exc
            if exc.status == 404:
                return False
            raise
        return True

    def secret_exists(self, name: str) -> bool:
        """Whether a Secret of the namespace has this name. One the controller may not read (not in
        the chart's ``controller.certificateSecrets``) counts as missing: the tenant's status says so."""
        try:
            self.core.read_namespaced_secret(name, self.namespace)
        except self._error as exc:
            if exc.status in (403, 404):
                return False
            raise
        return True
