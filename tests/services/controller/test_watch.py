"""The controller's watch loop against an in-memory Kubernetes API: it lists and reconciles on start
(a restart is a start), follows the watch, lists again when the watch's version has expired (410),
and on a status conflict (409) reads the object again and reconciles the newer one."""

from __future__ import annotations

import copy
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from mss.controller.health import Health, serve
from mss.controller.kube import RETRY_PAUSE, Conflict, Gone, run, settle

Edit = tuple[str, str, int | None]
"""A change the cluster makes during a watch: (event type, object name, new generation or None)."""


class Cluster:
    """Objects with resource versions; status writes conditional on them; each watch call plays the
    next script (changes applied to the objects and streamed, or Gone)."""

    def __init__(self, names: list[str], watches: list[list[Edit] | type[Gone]]) -> None:
        self.version = 10
        self.objects: dict[str, dict[str, Any]] = {}
        for name in names:
            self.put(name, 1)
        self.watches = watches
        self.lists = 0
        self.written: list[tuple[str, int]] = []

    def put(self, name: str, generation: int) -> dict[str, Any]:
        self.version += 1
        found = self.objects.setdefault(name, {"metadata": {"name": name}, "spec": {"establishment": name}})
        found["metadata"].update(generation=generation, resourceVersion=str(self.version))
        return copy.deepcopy(found)

    def list(self) -> tuple[list[dict[str, Any]], str]:
        self.lists += 1
        return [copy.deepcopy(o) for o in self.objects.values()], str(self.version)

    def watch(self, resource_version: str, timeout: float) -> Iterator[tuple[str, dict[str, Any]]]:
        script = self.watches.pop(0) if self.watches else []
        if script is Gone:
            raise Gone
        assert isinstance(script, list)
        for kind, name, generation in script:
            if generation is None:
                yield kind, copy.deepcopy(self.objects[name])
            else:
                yield kind, self.put(name, generation)

    def get(self, name: str) -> dict[str, Any] | None:
        found = self.objects.get(name)
        return copy.deepcopy(found) if found else None

    def write_status(self, resource: dict[str, Any], status: dict[str, Any]) -> bool:
        current = self.objects.get(resource["metadata"]["name"])
        if current is None:
            return False
        if current["metadata"]["resourceVersion"] != resource["metadata"]["resourceVersion"]:
            raise Conflict
        self.version += 1
        current["status"] = status
        current["metadata"]["resourceVersion"] = str(self.version)
        self.written.append((current["metadata"]["name"], status["observedGeneration"]))
        return True


def recording(seen: list[tuple[str, int]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def reconcile(resource: dict[str, Any]) -> dict[str, Any]:
        seen.append((resource["metadata"]["name"], resource["metadata"]["generation"]))
        return {"observedGeneration": resource["metadata"]["generation"]}

    return reconcile


def test_a_start_lists_everything_then_only_spec_changes_are_reconciled() -> None:
    # a's own status write comes back as MODIFIED (nothing to do); b's spec changes (generation 2).
    cluster = Cluster(["a", "b"], [[("MODIFIED", "a", None), ("MODIFIED", "b", 2), ("ADDED", "c", 1)]])
    seen: list[tuple[str, int]] = []
    run(cluster, recording(seen), resync=60, stopped=lambda: cluster.lists == 2)
    # the list, the watch (not a's echo), then the list that follows the end of the watch (resync)
    assert seen == [("a", 1), ("b", 1), ("b", 2), ("c", 1), ("a", 1), ("b", 2), ("c", 1)]
    assert cluster.written == seen


def test_an_expired_watch_lists_again() -> None:
    cluster = Cluster(["a"], [Gone, [("ADDED", "c", 1)]])
    seen: list[tuple[str, int]] = []
    run(cluster, recording(seen), resync=60, stopped=lambda: cluster.lists == 3)
    assert seen[:3] == [("a", 1), ("a", 1), ("c", 1)]  # listed, listed again after 410, then watched


def test_a_conflict_reads_the_object_again_and_reconciles_the_newer_one() -> None:
    cluster = Cluster(["a"], [])
    stale = cluster.get("a")
    assert stale is not None
    cluster.put("a", 2)  # the spec changed after the object was read
    seen: list[tuple[str, int]] = []
    settle(cluster, stale, recording(seen))
    assert seen == [("a", 1), ("a", 2)]
    assert cluster.written == [("a", 2)]


def test_an_object_deleted_meanwhile_is_let_go() -> None:
    cluster = Cluster(["a"], [])
    seen: list[tuple[str, int]] = []
    resource = cluster.get("a")
    assert resource is not None

    def reconcile_then_delete(found: dict[str, Any]) -> dict[str, Any]:
        cluster.objects.pop("a")
        return recording(seen)(found)

    settle(cluster, resource, reconcile_then_delete)
    assert (seen, cluster.written) == ([("a", 1)], [])


def test_the_health_endpoint_follows_the_loop() -> None:
    now = [1000.0]
    health = Health(resync=60, clock=lambda: now[0])
    server = serve(health, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.server_address[1]}"

    def status(path: str) -> int:
        try:
            with urllib.request.urlopen(url + path, timeout=5) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    try:
        assert (status("/healthz"), status("/readyz")) == (200, 503)  # starting: alive, not ready
        cluster = Cluster(["a"], [])
        run(cluster, recording([]), resync=60, stopped=lambda: cluster.lists == 1, beat=health.beat)
        assert (status("/healthz"), status("/readyz")) == (200, 200)
        now[0] += 2 * 60 + 61  # no list for two resync periods and a minute: stuck
        assert status("/healthz") == 503
        assert (status("/metrics"), status("/elsewhere")) == (200, 404)
    finally:
        server.shutdown()
        server.server_close()


def test_one_failing_resource_and_a_failing_api_stop_nothing(caplog: pytest.LogCaptureFixture) -> None:
    cluster = Cluster(["a", "b"], [])
    failures = ["list"]
    listing = cluster.list

    def flaky_list() -> tuple[list[dict[str, Any]], str]:
        if failures:
            raise RuntimeError(failures.pop())  # e.g. the API server restarting
        return listing()

    cluster.list = flaky_list  # type: ignore[method-assign]
    seen: list[tuple[str, int]] = []

    def reconcile(resource: dict[str, Any]) -> dict[str, Any]:
        if resource["metadata"]["name"] == "a":
            raise ValueError("the admin API answered something unexpected")
        return recording(seen)(resource)

    pauses: list[float] = []
    run(cluster, reconcile, resync=60, stopped=lambda: cluster.lists == 1, pause=pauses.append)
    assert pauses == [RETRY_PAUSE]  # the failed list, then a pause, then a list
    assert seen == [("b", 1)]
    assert cluster.written == [("b", 1)]
    assert "MssTenant not reconciled" in caplog.text
