"""The Helm chart ``charts/mss``, rendered offline with the Helm v4 SDK (helm-python-sdk).

Each value set of ``charts/mss/ci`` is rendered, linted strictly, and every manifest of a Kubernetes
kind is validated against the bundled OpenAPI schemas (kubernetes-validate, strict) of several
Kubernetes versions. The kinds whose CRDs come from operators (KEDA, prometheus-operator,
CloudNativePG) have no schema here: their shape is asserted instead. The rest checks what the design
asks of a deployment: security settings of every pod, probes, spread, budgets, autoscaling, the flows
the NetworkPolicies open, and that every ``MSS_*`` variable is a field of the settings class of the
process that reads it (and parses with it).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from mss.bus import streams
from mss.devstack.layout import Layout
from mss.devstack.nats import MAX_PAYLOAD, nats_server_binary
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "mss"
RELEASE = "mss"
NAMESPACE = "mail"
FULLNAME = "mss"  # the release name contains the chart name
VALUE_SETS = ("defaults", "external", "ha")
KUBE_VERSIONS = ("1.29.0", "1.31.0", "1.35.0")
"""The chart's minimum (Chart.yaml kubeVersion), and two later releases."""

COMPONENTS = ("ingress", "policy", "directory", "storage", "egress", "tracing", "controller")
WORKERS = ("policy", "storage", "egress")
DATABASE_COMPONENTS = ("directory", "storage", "tracing")
SETTINGS = {
    "mss.ingress": "mss.ingress.settings:IngressSettings",
    "mss.policy": "mss.policy.settings:PolicySettings",
    "mss.directory": "mss.directory.settings:DirectorySettings",
    "mss.storage": "mss.storage.settings:StorageSettings",
    "mss.egress": "mss.egress.settings:EgressSettings",
    "mss.tracing": "mss.tracing.settings:TracingSettings",
    "mss.controller": "mss.controller.settings:ControllerSettings",
    "mss.db": "mss.core.settings:DatabaseSettings",  # python -m mss.db migrate reads MSS_DATABASE_URL
}
"""The settings class of each module a container runs with ``python -m``."""

CORE_API_GROUPS = {
    "",
    "apps",
    "batch",
    "policy",
    "autoscaling",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
}
CRD_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("postgresql.cnpg.io/v1", "Cluster"),
}
"""Kinds of operators' CRDs: no schema in kubernetes-validate, shape asserted by the tests below."""
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "Pod")
ANYWHERE = "0.0.0.0/0"


# ---- rendering ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """One rendering of the chart: its objects, and the values it used (defaults merged)."""

    name: str
    objects: tuple[dict[str, Any], ...]
    values: dict[str, Any]
    input_values: dict[str, Any]

    def of(self, kind: str) -> list[dict[str, Any]]:
        """The objects of a kind."""
        return [o for o in self.objects if o["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        """The object of a kind with that name (asserted to exist once)."""
        found = [o for o in self.of(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind} {name}: {len(found)} objects in {self.name}"
        return found[0]

    def find(self, kind: str, name: str) -> dict[str, Any] | None:
        """The object of a kind with that name, or None."""
        found = [o for o in self.of(kind) if o["metadata"]["name"] == name]
        return found[0] if found else None

    def deployment(self, component: str) -> dict[str, Any]:
        """A component's Deployment."""
        return self.named("Deployment", f"{FULLNAME}-{component}")


def _render(values: dict[str, Any], name: str) -> Rendered:
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(values=values or None, name=RELEASE, namespace=NAMESPACE, is_install=True)
        merged = chart.merge_values(values or None)
    objects = [
        document
        for path, text in sorted(manifests.items())
        if path.endswith((".yaml", ".yml"))
        for document in yaml.safe_load_all(text)
        if document
    ]
    return Rendered(name, tuple(objects), merged, values)


def value_set(name: str) -> dict[str, Any]:
    """The values of ``ci/<name>.yaml``."""
    loaded = yaml.safe_load((CHART / "ci" / f"{name}.yaml").read_text(encoding="utf-8"))
    return loaded or {}


@cache
def rendered_set(name: str) -> Rendered:
    """The chart rendered with ``ci/<name>.yaml`` (cached: tests only read it)."""
    return _render(value_set(name), name)


@pytest.fixture(params=VALUE_SETS)
def rendered(request: pytest.FixtureRequest) -> Rendered:
    """The chart rendered with each value set of ``ci/``."""
    return rendered_set(request.param)


# ---- object helpers ----------------------------------------------------------------------------------


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a Deployment, StatefulSet, Job or Pod."""
    if workload["kind"] == "Pod":
        return workload["spec"]
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    """The labels of the pods of a workload."""
    if workload["kind"] == "Pod":
        return workload["metadata"]["labels"]
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def all_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Init containers and containers of a pod spec."""
    return [*spec.get("initContainers", []), *spec["containers"]]


def workloads(rendered: Rendered) -> list[dict[str, Any]]:
    """Every object that runs pods."""
    return [o for o in rendered.objects if o["kind"] in WORKLOAD_KINDS]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A container's environment by name (asserted free of duplicates)."""
    names = [var["name"] for var in container.get("env", [])]
    assert len(names) == len(set(names)), f"duplicate variables in {container['name']}: {names}"
    return {var["name"]: var for var in container.get("env", [])}


def literal(container: dict[str, Any], name: str) -> str:
    """The literal value of a container's variable."""
    var = env_of(container).get(name)
    assert var is not None, f"{container['name']}: no {name}"
    assert "value" in var, f"{container['name']}: {name} is not a literal"
    value: str = var["value"]
    return value


def container_port(container: dict[str, Any], name: str) -> int:
    """The number of a named container port."""
    ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
    assert name in ports, f"{container['name']} has no port {name}: {ports}"
    return ports[name]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """Whether ``matchLabels`` selects an object with ``labels``."""
    return all(labels.get(key) == value for key, value in selector.items())


def module_of(container: dict[str, Any]) -> str | None:
    """The module a container runs with ``python -m``, if any."""
    command = [*container.get("command", []), *container.get("args", [])]
    if len(command) >= 3 and command[0] == "python" and command[1] == "-m":
        return str(command[2])
    return None


@cache
def settings_class(module: str) -> type[BaseSettings]:
    """The settings class of a module run with ``python -m``."""
    assert module in SETTINGS, f"a container runs {module}, which has no settings class known here"
    path, _, name = SETTINGS[module].partition(":")
    cls: type[BaseSettings] = getattr(importlib.import_module(path), name)
    return cls


def setting_names(cls: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    return {f"{prefix}{field}".upper() for field in cls.model_fields}


def serves_http(component: str) -> bool:
    """Whether the component's process has an HTTP endpoint (its settings have ``http_port``)."""
    return "http_port" in settings_class(f"mss.{component}").model_fields


def port_numbers(rule: dict[str, Any]) -> set[int | str]:
    """The ports of a NetworkPolicy rule."""
    return {port["port"] for port in rule.get("ports", [])}


def open_to_world(peers: list[dict[str, Any]] | None) -> bool:
    """Whether a rule's peers let any address through (no peers, or 0.0.0.0/0)."""
    if not peers:
        return True
    return any(peer.get("ipBlock", {}).get("cidr") == ANYWHERE for peer in peers)


def network_policy(rendered: Rendered, component: str) -> dict[str, Any]:
    """The NetworkPolicy of a component."""
    return rendered.named("NetworkPolicy", f"{FULLNAME}-{component}")


def world_ports(policy: dict[str, Any], direction: str) -> set[int | str]:
    """Ports a NetworkPolicy opens to or from any address."""
    peers_key = "from" if direction == "ingress" else "to"
    return {
        port
        for rule in policy["spec"].get(direction) or []
        if open_to_world(rule.get(peers_key))
        for port in port_numbers(rule)
    }


def egress_ports(policy: dict[str, Any]) -> set[int | str]:
    """Every port a NetworkPolicy lets its pods connect to."""
    return {port for rule in policy["spec"].get("egress") or [] for port in port_numbers(rule)}


# ---- the value sets, lint and schemas ----------------------------------------------------------------


def test_value_sets_exist() -> None:
    """The three documented value sets are there, and nothing else goes untested."""
    assert sorted(path.stem for path in (CHART / "ci").glob("*.yaml")) == sorted(VALUE_SETS)


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("name", VALUE_SETS)
def test_lint_is_clean(name: str, kube_version: str) -> None:
    """helm lint --strict: no error and no warning (the only info is the missing icon)."""
    report = helm.lint(
        CHART, value_set(name) or None, strict=True, namespace=NAMESPACE, kube_version=f"v{kube_version}"
    )
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_lint_catches_a_broken_template(tmp_path: Path) -> None:
    """The lint above is not vacuous: a template that dereferences a missing value is an error."""
    copy = tmp_path / "mss"
    shutil.copytree(CHART, copy)
    (copy / "templates" / "broken.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ .Values.missing.key }}\n",
        encoding="utf-8",
    )
    report = helm.lint(copy, None, strict=True, namespace=NAMESPACE)
    assert any("missing" in error for error in report["errors"])


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_manifests_match_the_kubernetes_schemas(rendered: Rendered, kube_version: str) -> None:
    """Every object of a Kubernetes kind is valid (strict: no unknown field) for each version."""
    validated = 0
    for obj in rendered.objects:
        group = obj["apiVersion"].rpartition("/")[0]
        if group in CORE_API_GROUPS:
            kubernetes_validate.validate(obj, kube_version, strict=True)
            validated += 1
        else:
            assert (obj["apiVersion"], obj["kind"]) in CRD_KINDS, f"unexpected kind {obj['kind']}"
    assert validated >= 30


def test_the_schema_check_can_fail() -> None:
    """kubernetes-validate in strict mode refuses a misspelled field of a rendered Deployment."""
    deployment = rendered_set("defaults").deployment("ingress")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBE_VERSIONS[-1], strict=True)


def test_every_object_is_named_and_labelled_by_component(rendered: Rendered) -> None:
    """<fullname>-<component> names, the standard labels, all in the release namespace."""
    for obj in rendered.objects:
        metadata = obj["metadata"]
        labels = metadata["labels"]
        assert metadata["name"] == FULLNAME or metadata["name"].startswith(f"{FULLNAME}-"), metadata["name"]
        assert metadata["namespace"] in (NAMESPACE, rendered.values["controller"]["watchNamespace"])
        assert labels["app.kubernetes.io/name"] == "mss"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        component = labels.get("app.kubernetes.io/component")
        if component is not None:
            assert metadata["name"].startswith(f"{FULLNAME}-{component}"), metadata["name"]


# ---- security of every pod ---------------------------------------------------------------------------


def test_every_pod_is_locked_down(rendered: Rendered) -> None:
    """Non-root with a fixed uid/gid, RuntimeDefault seccomp, read-only root (with /tmp an emptyDir),
    no privilege escalation, no capabilities, resources bounded, Secrets mounted without subPath."""
    pods = workloads(rendered)
    assert {o["kind"] for o in pods} >= {"Deployment", "Job", "Pod"}
    for workload in pods:
        where = f"{workload['kind']} {workload['metadata']['name']}"
        spec = pod_spec(workload)
        security = spec["securityContext"]
        assert security["runAsNonRoot"] is True, where
        for key in ("runAsUser", "runAsGroup"):
            assert isinstance(security[key], int), where
            assert security[key] > 0, where
        assert security["seccompProfile"]["type"] == "RuntimeDefault", where
        is_controller = pod_labels(workload).get("app.kubernetes.io/component") == "controller"
        assert spec["automountServiceAccountToken"] is is_controller, where
        volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
        for claim in workload["spec"].get("volumeClaimTemplates", []):
            volumes[claim["metadata"]["name"]] = {"persistentVolumeClaim": claim}
        for container in all_containers(spec):
            here = f"{where} container {container['name']}"
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, here
            assert context["readOnlyRootFilesystem"] is True, here
            assert context["capabilities"]["drop"] == ["ALL"], here
            assert "add" not in context["capabilities"], here
            assert context.get("runAsNonRoot", True) is True, here
            assert context.get("privileged", False) is False, here
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), here
            mounts = {mount["mountPath"]: mount for mount in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{here}: no /tmp"
            assert "emptyDir" in volumes[mounts["/tmp"]["name"]], here
            for mount in mounts.values():
                assert not {"subPath", "subPathExpr"} & set(mount), here
                if "secret" in volumes[mount["name"]]:
                    assert mount.get("readOnly") is True, here


def test_deployments_probe_spread_and_budget(rendered: Rendered) -> None:
    """Probes on /healthz and /readyz for every process with an HTTP endpoint, topology spread across
    zones and nodes, and a PodDisruptionBudget, for every Deployment and the NATS StatefulSet."""
    budgets = rendered.of("PodDisruptionBudget")
    deployments = rendered.of("Deployment")
    assert {d["metadata"]["labels"]["app.kubernetes.io/component"] for d in deployments} == set(COMPONENTS)
    for workload in [*deployments, *rendered.of("StatefulSet")]:
        name = workload["metadata"]["name"]
        labels = pod_labels(workload)
        assert selects(workload["spec"]["selector"]["matchLabels"], labels), name
        spread = {c["topologyKey"]: c for c in pod_spec(workload)["topologySpreadConstraints"]}
        assert set(spread) == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}, name
        for constraint in spread.values():
            assert selects(constraint["labelSelector"]["matchLabels"], labels), name
            assert constraint["labelSelector"]["matchLabels"] == workload["spec"]["selector"]["matchLabels"]
        matching = [b for b in budgets if selects(b["spec"]["selector"]["matchLabels"], labels)]
        assert len(matching) == 1, f"{name}: {len(matching)} PodDisruptionBudgets"
        assert matching[0]["spec"]["maxUnavailable"] >= 1
    for deployment in deployments:
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        container = pod_spec(deployment)["containers"][0]
        assert module_of(container) == f"mss.{component}"
        if serves_http(component):
            port = container_port(container, "http")
            assert literal(container, f"MSS_{component.upper()}_HTTP_PORT") == str(port)
            assert literal(container, f"MSS_{component.upper()}_HTTP_HOST") == "0.0.0.0"
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                assert container[probe]["httpGet"] == {"path": path, "port": "http"}, component
            assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        else:  # no endpoint to probe: a probe would restart the process forever
            assert not {"livenessProbe", "readinessProbe", "startupProbe", "ports"} & set(container)


def test_http_endpoints_match_the_settings(tmp_path: Path) -> None:
    """The chart's HTTP ports are those of `task up`, and a component has one exactly when its settings
    class has ``http_port``."""
    values = rendered_set("defaults").values
    local = Layout(home=tmp_path).http
    for component in COMPONENTS:
        port = values[component]["service"]["ports"]["http"]
        assert bool(port) == serves_http(component), component
        if component in local:
            assert port == local[component], f"{component}: chart {port}, task up {local[component]}"
    ingress = settings_class("mss.ingress").model_fields
    smtp = values["ingress"]["smtp"]
    assert smtp["peer"]["containerPort"] == ingress["peer_port"].default
    assert smtp["submission"]["containerPort"] == ingress["submission_port"].default
    assert (smtp["peer"]["port"], smtp["submission"]["port"]) == (25, 587)


# ---- environment -------------------------------------------------------------------------------------


def test_every_mss_variable_is_a_setting(rendered: Rendered) -> None:
    """Every MSS_* variable of a container is a field of the settings class of the module it runs."""
    checked = 0
    for workload in workloads(rendered):
        for container in all_containers(pod_spec(workload)):
            names = {name for name in env_of(container) if name.startswith("MSS_")}
            module = module_of(container)
            if module is None:
                assert not names, f"{container['name']} runs no mss module but has {names}"
                continue
            unknown = names - setting_names(settings_class(module))
            assert not unknown, f"{workload['metadata']['name']}/{container['name']}: not settings {unknown}"
            checked += len(names)
    assert checked > 40


def test_literal_settings_parse(rendered: Rendered, monkeypatch: pytest.MonkeyPatch) -> None:
    """The literal values parse with the settings classes (JSON lists and maps, numbers), and agree
    with the container ports and mounted files."""
    for key in list(os.environ):
        if key.startswith(("MSS_", "PG")):
            monkeypatch.delenv(key)
    for workload in workloads(rendered):
        spec = pod_spec(workload)
        mounts = {
            mount["mountPath"]: mount["name"]
            for container in all_containers(spec)
            for mount in container.get("volumeMounts", [])
        }
        for container in all_containers(spec):
            module = module_of(container)
            if module is None:
                continue
            env = {name: var["value"] for name, var in env_of(container).items() if "value" in var}
            with monkeypatch.context() as patch:
                for name, value in env.items():
                    patch.setenv(name, value)
                settings = settings_class(module)().model_dump()
            if "http_port" in settings and "ports" in container:
                assert settings["http_port"] == container_port(container, "http")
                assert settings["http_host"] == "0.0.0.0"
            if module == "mss.ingress":
                assert settings["smtp_host"] == "0.0.0.0"
                assert settings["peer_port"] == container_port(container, "smtp-peer")
                assert settings["submission_port"] == container_port(container, "smtp-submission")
            for name, value in env.items():
                if name.endswith("_FILE") or name == "PGSSLROOTCERT":
                    directory = str(Path(value).parent)
                    assert directory in mounts, f"{container['name']}: {name}={value} is not in a mount"


def test_configuration_reaches_the_settings() -> None:
    """A component's ``config`` map becomes its variables (JSON for lists), and extraEnv replaces."""
    rendered = _render(
        {
            "mailHostname": "mx.example.org",
            "egress": {"config": {"retry_delays": [60, 600], "peer_routes": {"a.fr": "mx.a.fr:25"}}},
            "ingress": {
                "config": {"max_message_size": 26214400, "tls_allow_tls13": True},
                "extraEnv": [{"name": "MSS_INGRESS_SMTP_HOST", "value": "::"}],
            },
        },
        "config",
    )
    egress = pod_spec(rendered.deployment("egress"))["containers"][0]
    assert literal(egress, "MSS_EGRESS_RETRY_DELAYS") == "[60,600]"
    assert literal(egress, "MSS_EGRESS_PEER_ROUTES") == '{"a.fr":"mx.a.fr:25"}'
    assert literal(egress, "MSS_EGRESS_HOSTNAME") == "mx.example.org"
    ingress = pod_spec(rendered.deployment("ingress"))["containers"][0]
    assert literal(ingress, "MSS_INGRESS_MAX_MESSAGE_SIZE") == "26214400"
    assert literal(ingress, "MSS_INGRESS_TLS_ALLOW_TLS13") == "true"
    assert literal(ingress, "MSS_INGRESS_SMTP_HOST") == "::"
    assert literal(ingress, "MSS_INGRESS_HOSTNAME") == "mx.example.org"


def test_images_default_to_the_app_version_and_are_overridable() -> None:
    """One image for everything, tagged with appVersion; a component's image wins over the global one."""
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))["appVersion"]
    rendered = _render({"image": {"tag": "1.2.3"}, "egress": {"image": {"tag": "hotfix"}}}, "images")
    for component in COMPONENTS:
        image = pod_spec(rendered.deployment(component))["containers"][0]["image"]
        assert image == f"ghcr.io/mss-sante/mss:{'hotfix' if component == 'egress' else '1.2.3'}"
    defaults = rendered_set("defaults")
    for component in COMPONENTS:
        image = pod_spec(defaults.deployment(component))["containers"][0]["image"]
        assert image == f"ghcr.io/mss-sante/mss:{app_version}"


# ---- ingress: SMTP Service and TLS -------------------------------------------------------------------


def test_ingress_service_keeps_client_addresses(rendered: Rendered) -> None:
    """The SMTP Service is external with ``externalTrafficPolicy: Local``: 25 and 587 reach the pods'
    peer and submission listeners."""
    service = rendered.named("Service", f"{FULLNAME}-ingress-smtp")
    spec = service["spec"]
    assert spec["type"] in ("LoadBalancer", "NodePort")
    assert spec["externalTrafficPolicy"] == "Local"
    container = pod_spec(rendered.deployment("ingress"))["containers"][0]
    ports = {port["port"]: port["targetPort"] for port in spec["ports"]}
    assert ports == {25: "smtp-peer", 587: "smtp-submission"}
    assert literal(container, "MSS_INGRESS_PEER_PORT") == str(container_port(container, "smtp-peer"))
    assert literal(container, "MSS_INGRESS_SUBMISSION_PORT") == str(
        container_port(container, "smtp-submission")
    )
    assert selects(spec["selector"], pod_labels(rendered.deployment("ingress")))


@pytest.mark.parametrize("component", ["ingress", "egress"])
def test_tls_files_come_from_mounted_secrets(rendered: Rendered, component: str) -> None:
    """Certificate, key, CA chain (and CRL when named) are files of whole Secret volumes."""
    spec = pod_spec(rendered.deployment(component))
    container = spec["containers"][0]
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    kinds = ["CERT", "KEY", "CA"]
    tls = {**rendered.values["tls"], **rendered.values[component]["tls"]}
    if tls["crl"]["secretName"]:
        kinds.append("CRL")
    else:
        assert f"MSS_{component.upper()}_TLS_CRL_FILE" not in env_of(container)
    for kind in kinds:
        path = Path(literal(container, f"MSS_{component.upper()}_TLS_{kind}_FILE"))
        mount = mounts[str(path.parent)]
        assert mount["readOnly"] is True
        secret = volumes[mount["name"]]["secret"]
        assert path.name in {item["path"] for item in secret["items"]}
    if component == "egress" and rendered.name == "external":
        volume = volumes[mounts["/etc/mss/tls/certificate"]["name"]]
        assert volume["secret"]["secretName"] == "mss-operator-client-certificate"


# ---- autoscaling -------------------------------------------------------------------------------------


def test_autoscaling_follows_the_values(rendered: Rendered) -> None:
    """HPA (autoscaling/v2, CPU) when autoscaling is on, a KEDA ScaledObject instead for workers with
    keda on, a fixed replica count otherwise."""
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in rendered.of("HorizontalPodAutoscaler")}
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in rendered.of("ScaledObject")}
    for component in COMPONENTS:
        values = rendered.values[component]
        name = f"{FULLNAME}-{component}"
        deployment = rendered.deployment(component)
        keda = values.get("keda", {}).get("enabled", False)
        if keda:
            assert name in scaled, component
            assert name not in hpas, component
        elif values["autoscaling"]["enabled"]:
            hpa = hpas[name]
            assert hpa["apiVersion"] == "autoscaling/v2"
            assert hpa["spec"]["scaleTargetRef"] == {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": name,
            }
            assert hpa["spec"]["minReplicas"] == values["autoscaling"]["minReplicas"]
            (metric,) = hpa["spec"]["metrics"]
            assert metric["resource"]["name"] == "cpu"
            target = metric["resource"]["target"]
            assert target["averageUtilization"] == values["autoscaling"]["targetCPUUtilizationPercentage"]
            assert name not in scaled
        else:
            assert name not in hpas
            assert name not in scaled
            assert deployment["spec"]["replicas"] == values["replicas"]
        if keda or values["autoscaling"]["enabled"]:
            assert "replicas" not in deployment["spec"], f"{component}: replicas fight the autoscaler"
    if rendered.name == "ha":
        assert set(scaled) == {f"{FULLNAME}-{c}" for c in WORKERS}
        assert set(hpas) == {f"{FULLNAME}-{c}" for c in ("ingress", "directory", "tracing")}
        assert rendered.deployment("controller")["spec"]["replicas"] == 1


def test_scaled_objects_read_a_declared_consumer() -> None:
    """ScaledObjects (ha): a nats-jetstream trigger on a durable consumer mss declares, read from the
    bundled servers' monitoring port through the headless Service, plus CPU."""
    rendered = rendered_set("ha")
    declared = {
        (spec.stream.name, spec.durable)
        for spec in vars(streams).values()
        if isinstance(spec, streams.ConsumerSpec)
    }
    headless = rendered.named("Service", f"{FULLNAME}-nats-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert 8222 in {port["port"] for port in headless["spec"]["ports"]}
    for component in WORKERS:
        scaled = rendered.named("ScaledObject", f"{FULLNAME}-{component}")
        assert scaled["apiVersion"] == "keda.sh/v1alpha1"
        spec = scaled["spec"]
        assert spec["scaleTargetRef"]["name"] == rendered.deployment(component)["metadata"]["name"]
        assert spec["minReplicaCount"] <= spec["maxReplicaCount"]
        jetstream, cpu = spec["triggers"]
        assert jetstream["type"] == "nats-jetstream"
        metadata = jetstream["metadata"]
        assert all(isinstance(value, str) for value in metadata.values())
        assert (metadata["stream"], metadata["consumer"]) in declared, metadata
        assert metadata["account"] == "$G"
        assert int(metadata["lagThreshold"]) > 0
        assert metadata["natsServerMonitoringEndpoint"] == (
            f"{FULLNAME}-nats-headless.{NAMESPACE}.svc.cluster.local:8222"
        )
        assert (cpu["type"], cpu["metricType"]) == ("cpu", "Utilization")
    external = rendered_set("external")
    assert external.of("ScaledObject") == []


def test_service_monitors_scrape_the_http_ports() -> None:
    """ServiceMonitors (ha): one per component with an HTTP endpoint, selecting its HTTP Service."""
    rendered = rendered_set("ha")
    monitors = rendered.of("ServiceMonitor")
    expected = {f"{FULLNAME}-{c}" for c in COMPONENTS if serves_http(c)}
    assert {m["metadata"]["name"] for m in monitors} == expected
    for monitor in monitors:
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["metadata"]["labels"]["release"] == "prometheus"
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        scraped = [
            s
            for s in rendered.of("Service")
            if selects(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])
            and endpoint["port"] in {p["name"] for p in s["spec"]["ports"]}
        ]
        assert [s["metadata"]["name"] for s in scraped] == [monitor["metadata"]["name"]]
    assert rendered_set("defaults").of("ServiceMonitor") == []


def test_services_reach_named_ports(rendered: Rendered) -> None:
    """Every Service selects pods of a workload that has the ports it targets; Ingress backends exist."""
    pods = [w for w in workloads(rendered) if w["kind"] in ("Deployment", "StatefulSet")]
    for service in rendered.of("Service"):
        targets = [w for w in pods if selects(service["spec"]["selector"], pod_labels(w))]
        assert len(targets) == 1, service["metadata"]["name"]
        names = {p["name"] for c in pod_spec(targets[0])["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names, (service["metadata"]["name"], port)
    for ingress in rendered.of("Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = rendered.named("Service", backend["name"])
                assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def test_the_audit_ingress_publishes_the_ui_and_api_only() -> None:
    """The Ingress routes /ui/ and /api/ to tracing; a path that would also publish /metrics or the
    health endpoints (such as /) is refused with a message."""
    rendered = rendered_set("external")
    (ingress,) = rendered.of("Ingress")
    paths = [p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert paths == ["/ui/", "/api/"]
    for wrong in ("/", "/metrics", "/u"):
        hosts = [{"host": "audit.example.org", "paths": [{"path": wrong, "pathType": "Prefix"}]}]
        with pytest.raises(helm.HelmRenderError, match="would publish more than the audit UI and API"):
            _render({"tracing": {"ingress": {"enabled": True, "hosts": hosts}}}, f"ingress {wrong}")


# ---- network policies --------------------------------------------------------------------------------


def test_default_deny_covers_every_pod(rendered: Rendered) -> None:
    """Everything is denied to the release's pods, and every pod has its own NetworkPolicy."""
    deny = rendered.named("NetworkPolicy", f"{FULLNAME}-default-deny")
    assert deny["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "mss",
        "app.kubernetes.io/instance": RELEASE,
    }
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert not {"ingress", "egress"} & set(deny["spec"])
    policies = [p for p in rendered.of("NetworkPolicy") if p is not deny]
    for workload in workloads(rendered):
        labels = pod_labels(workload)
        assert selects(deny["spec"]["podSelector"]["matchLabels"], labels)
        own = [p for p in policies if selects(p["spec"]["podSelector"]["matchLabels"], labels)]
        assert len(own) == 1, f"{workload['metadata']['name']}: {len(own)} NetworkPolicies"
        assert own[0]["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_network_policies_open_the_designed_flows(rendered: Rendered) -> None:
    """NATS for all but the controller, PostgreSQL for directory, storage and tracing, DNS for all;
    from or to any address only: SMTP in to ingress, SMTP out from egress, HTTPS out from policy and
    directory, the Kubernetes API from the controller, and the audit UI when not restricted."""
    world_out = {
        "ingress": set(),
        "policy": {443},
        "directory": {443},
        "storage": set(),
        "egress": {25, 465, 587},
        "tracing": set(),
        "controller": {443, 6443},
    }
    tracing_open = not rendered.values["tracing"]["networkPolicy"]["httpFrom"]
    world_in = {c: set() for c in COMPONENTS} | {
        "ingress": {2525, 5587},
        "tracing": {"http"} if tracing_open else set(),
    }
    for component in COMPONENTS:
        policy = network_policy(rendered, component)
        ports = egress_ports(policy)
        assert 53 in ports, component
        assert (4222 in ports) == (component != "controller"), component
        assert (5432 in ports) == (component in DATABASE_COMPONENTS), component
        assert world_ports(policy, "egress") == world_out[component], component
        assert world_ports(policy, "ingress") == world_in[component], component
        if serves_http(component):
            metrics = [r for r in policy["spec"]["ingress"] if port_numbers(r) == {"http"} and r.get("from")]
            assert metrics, f"{component}: no metrics rule"
    controller_to_directory = [
        rule
        for rule in network_policy(rendered, "directory")["spec"]["ingress"]
        if any(
            peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/component")
            == "controller"
            for peer in rule.get("from", [])
        )
    ]
    assert [port_numbers(rule) for rule in controller_to_directory] == [{"http"}]
    directory_port = rendered.values["directory"]["service"]["ports"]["http"]
    assert directory_port in egress_ports(network_policy(rendered, "controller"))


# ---- NATS and PostgreSQL -----------------------------------------------------------------------------


def test_external_services_render_no_nats_and_no_database() -> None:
    """external: no NATS StatefulSet, no CloudNativePG Cluster; URLs come from the named Secrets, and
    the migrations run before install and upgrades."""
    rendered = rendered_set("external")
    assert rendered.of("StatefulSet") == []
    assert rendered.of("Cluster") == []
    assert rendered.find("ConfigMap", f"{FULLNAME}-nats") is None
    for component in COMPONENTS:
        spec = pod_spec(rendered.deployment(component))
        env = env_of(spec["containers"][0])
        prefix = f"MSS_{component.upper()}_"
        if component != "controller":
            assert env[prefix + "NATS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "mss-nats", "key": "url"}
            assert literal(spec["containers"][0], prefix + "STREAM_REPLICAS") == "1"
        if component in DATABASE_COMPONENTS:
            reference = env[prefix + "DATABASE_URL"]["valueFrom"]["secretKeyRef"]
            assert reference == {"name": "mss-postgresql", "key": "uri"}
        assert "initContainers" not in spec
        assert not {"PGSSLMODE", "PGSSLROOTCERT"} & set(env)
    job = rendered.named("Job", f"{FULLNAME}-migrations")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"


@pytest.mark.parametrize("name", ["defaults", "ha"])
def test_bundled_nats_is_a_jetstream_cluster(name: str, tmp_path: Path) -> None:
    """bundled: a StatefulSet of official NATS servers whose configuration nats-server accepts, with
    JetStream on a claim, 32 MiB payloads, routes between all servers, and the services pointed at it."""
    rendered = rendered_set(name)
    replicas = rendered.values["nats"]["replicas"]
    statefulset = rendered.named("StatefulSet", f"{FULLNAME}-nats")
    assert statefulset["spec"]["replicas"] == replicas
    assert statefulset["spec"]["serviceName"] == f"{FULLNAME}-nats-headless"
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert (
        claim["spec"]["resources"]["requests"]["storage"]
        == rendered.values["nats"]["jetstream"]["storageSize"]
    )
    container = pod_spec(statefulset)["containers"][0]
    assert container["image"].startswith("docker.io/library/nats:")
    config = rendered.named("ConfigMap", f"{FULLNAME}-nats")["data"]["nats.conf"]
    assert f"max_payload: {MAX_PAYLOAD}" in config
    assert streams.BLOBS.max_msg_size <= MAX_PAYLOAD
    assert config.count(f"-nats-headless.{NAMESPACE}.svc.cluster.local:6222") == (
        replicas if replicas > 1 else 0
    )
    (tmp_path / "nats.conf").write_text(config, encoding="utf-8")
    checked = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(tmp_path / "nats.conf")],
        env={**os.environ, "SERVER_NAME": f"{FULLNAME}-nats-0"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    client = rendered.named("Service", f"{FULLNAME}-nats")
    assert 4222 in {port["port"] for port in client["spec"]["ports"]}
    for component in COMPONENTS:
        if component == "controller":
            continue
        app = pod_spec(rendered.deployment(component))["containers"][0]
        prefix = f"MSS_{component.upper()}_"
        assert literal(app, prefix + "NATS_URL") == f"nats://{FULLNAME}-nats.{NAMESPACE}.svc:4222"
        assert literal(app, prefix + "STREAM_REPLICAS") == str(min(replicas, 3))


@pytest.mark.parametrize("name", ["defaults", "ha"])
def test_cloudnativepg_cluster_and_its_secret(name: str) -> None:
    """cloudnativepg: a Cluster with database and owner mss, whose `<cluster>-app` Secret gives the
    URL; the first install migrates from init containers, upgrades from the pre-upgrade hook."""
    rendered = rendered_set(name)
    cluster = rendered.named("Cluster", f"{FULLNAME}-postgresql")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    spec = cluster["spec"]
    assert spec["instances"] == rendered.values["postgresql"]["cluster"]["instances"]
    assert spec["bootstrap"]["initdb"]["database"] == "mss"
    assert spec["bootstrap"]["initdb"]["owner"] == "mss"
    assert any("mss_audit_reader" in sql for sql in spec["bootstrap"]["initdb"]["postInitApplicationSQL"])
    assert spec["storage"]["size"]
    assert ("synchronous" in spec.get("postgresql", {})) == (spec["instances"] > 1)
    for component in COMPONENTS:
        pod = pod_spec(rendered.deployment(component))
        env = env_of(pod["containers"][0])
        prefix = f"MSS_{component.upper()}_"
        assert (prefix + "DATABASE_URL" in env) == (component in DATABASE_COMPONENTS), component
        if component in DATABASE_COMPONENTS:
            reference = env[prefix + "DATABASE_URL"]["valueFrom"]["secretKeyRef"]
            assert reference == {"name": f"{FULLNAME}-postgresql-app", "key": "uri"}
            assert env["PGSSLMODE"]["value"] == "verify-full"
            (init,) = pod["initContainers"]
            assert [*init["command"]] == ["python", "-m", "mss.db", "migrate"]
            assert env_of(init)["MSS_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == reference
        else:
            assert "initContainers" not in pod
            assert "PGSSLMODE" not in env
    job = rendered.named("Job", f"{FULLNAME}-migrations")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-upgrade"


def test_migration_hook_job(rendered: Rendered) -> None:
    """The migration Job runs ``python -m mss.db migrate`` with the URL in MSS_DATABASE_URL, which is
    where mss.db reads it from."""
    job = rendered.named("Job", f"{FULLNAME}-migrations")
    annotations = job["metadata"]["annotations"]
    assert "pre-upgrade" in annotations["helm.sh/hook"].split(",")
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    spec = pod_spec(job)
    assert spec["restartPolicy"] == "Never"
    (container,) = spec["containers"]
    assert container["command"] == ["python", "-m", "mss.db", "migrate"]
    assert "MSS_DATABASE_URL" in env_of(container)
    assert "database_url" in settings_class("mss.db").model_fields
    assert settings_class("mss.db").model_config.get("env_prefix") == "MSS_"


# ---- controller, helm test ---------------------------------------------------------------------------


def test_controller_rbac_and_environment(rendered: Rendered) -> None:
    """The controller's Role reads and watches msstenants, writes their status and records events; it
    reaches the directory's admin API with the token of the admin-token Secret."""
    namespace = rendered.values["controller"]["watchNamespace"] or NAMESPACE
    role = rendered.named("Role", f"{FULLNAME}-controller")
    assert role["metadata"]["namespace"] == namespace
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"]) for r in role["rules"]}
    assert rules[("mss.sante.fr",), ("msstenants",)] >= {"get", "list", "watch"}
    assert rules[("mss.sante.fr",), ("msstenants/status",)] >= {"update", "patch"}
    assert any("events" in resources and "create" in verbs for (_, resources), verbs in rules.items())
    assert not any("*" in verbs for verbs in rules.values())
    secrets = [r for r in role["rules"] if "secrets" in r["resources"]]
    names = rendered.values["controller"]["certificateSecrets"]
    if names:  # only the certificate Secrets tenants may name, never the namespace's others
        assert [(r["resourceNames"], r["verbs"]) for r in secrets] == [(names, ["get"])]
    else:
        assert secrets == []
    binding = rendered.named("RoleBinding", f"{FULLNAME}-controller")
    account = rendered.named("ServiceAccount", f"{FULLNAME}-controller")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": NAMESPACE}
    ]
    deployment = rendered.deployment("controller")
    assert pod_spec(deployment)["serviceAccountName"] == account["metadata"]["name"]
    container = pod_spec(deployment)["containers"][0]
    env = env_of(container)
    directory = rendered.named("Service", f"{FULLNAME}-directory")
    port = directory["spec"]["ports"][0]["port"]
    assert (
        literal(container, "MSS_CONTROLLER_ADMIN_URL")
        == f"http://{FULLNAME}-directory.{NAMESPACE}.svc:{port}"
    )
    assert literal(container, "MSS_CONTROLLER_NAMESPACE") == namespace
    token = env["MSS_CONTROLLER_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]
    tokens = env_of(pod_spec(rendered.deployment("directory"))["containers"][0])["MSS_DIRECTORY_ADMIN_TOKENS"]
    assert token["name"] == tokens["valueFrom"]["secretKeyRef"]["name"]
    if not rendered.values["adminTokens"]["existingSecret"]:
        secret = rendered.named("Secret", token["name"])
        assert set(secret["data"]) == {token["key"], tokens["valueFrom"]["secretKeyRef"]["key"]}


def test_controller_refuses_a_second_replica() -> None:
    """The controller has no leader election: more than one replica is refused at render time."""
    with pytest.raises(helm.HelmRenderError, match="leader election"):
        _render({"controller": {"replicas": 2}}, "two controllers")


def test_external_nats_needs_a_url() -> None:
    """nats.mode external without a URL is refused with a message naming the values to set."""
    with pytest.raises(helm.HelmRenderError, match=r"nats\.url"):
        _render({"nats": {"mode": "external"}}, "no url")


def test_helm_test_speaks_smtp_to_the_ingress_service(rendered: Rendered) -> None:
    """`helm test`: a pod of the mss image runs a Python SMTP dialogue (EHLO, STARTTLS, AUTH offered
    inside TLS only) against the ingress Service's ports."""
    pods = [p for p in rendered.of("Pod") if p["metadata"]["annotations"].get("helm.sh/hook") == "test"]
    (pod,) = pods
    (container,) = pod["spec"]["containers"]
    assert container["image"].startswith("ghcr.io/mss-sante/mss:")
    assert container["command"][:2] == ["python", "-c"]
    script = container["command"][2]
    compile(script, "smtp-round-trip", "exec")
    for needle in ("smtplib", "starttls", "ehlo", "has_extn", "530"):
        assert needle in script
    # Without a CRL the test fails, last: MSSante requires revocation checks.
    last = script.rstrip().rsplit("check(", 1)[1]
    assert last.startswith('\n    bool(os.environ["CRL_SECRET"]),'), last
    env = {var["name"]: var["value"] for var in container["env"]}
    service = rendered.named("Service", f"{FULLNAME}-ingress-smtp")
    assert env["SMTP_HOST"] == f"{service['metadata']['name']}.{NAMESPACE}.svc"
    service_ports = {port["port"] for port in service["spec"]["ports"]}
    assert {int(env["SMTP_PEER_PORT"]), int(env["SMTP_SUBMISSION_PORT"])} == service_ports
    for name in env:
        assert f'os.environ["{name}"]' in script, name
    assert env["CRL_SECRET"] == rendered.values["tls"]["crl"]["secretName"]
    # With tests.domain, a round trip on the peer listener with the operator's own certificate.
    domain = rendered.values["tests"]["domain"]
    assert env["SMTP_DOMAIN"] == domain
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert ("tls-certificate" in mounts) == bool(domain)
    if domain:
        assert mounts["tls-certificate"]["readOnly"] is True
        expected = rendered.values["tls"]["certificate"].get("secretName") or f"{FULLNAME}-tls"
        assert volumes["tls-certificate"]["secret"]["secretName"] == expected
        assert "5.1.1" in script


# ---- values, layout and README -----------------------------------------------------------------------


def test_components_share_one_values_shape() -> None:
    """tempo-distributed style: every component key has the same keys (workers add keda)."""
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    shape = {
        "replicas",
        "image",
        "config",
        "extraEnv",
        "extraVolumes",
        "extraVolumeMounts",
        "resources",
        "autoscaling",
        "service",
        "podDisruptionBudget",
        "networkPolicy",
        "podAnnotations",
        "terminationGracePeriodSeconds",
        "nodeSelector",
        "tolerations",
        "affinity",
    }
    for component in COMPONENTS:
        keys = set(values[component])
        assert shape <= keys, f"{component} lacks {shape - keys}"
        assert set(values[component]["image"]) == {"repository", "tag", "pullPolicy"}
        assert set(values[component]["autoscaling"]) == {
            "enabled",
            "minReplicas",
            "maxReplicas",
            "targetCPUUtilizationPercentage",
        }
        assert ("keda" in keys) == (component in WORKERS), component


def test_components_share_one_template_layout() -> None:
    """One folder per component with the same files (scaledobject for the workers)."""
    shared = {"_helpers.tpl", "deployment.yaml", "service.yaml", "pdb.yaml", "hpa.yaml"}
    shared |= {"servicemonitor.yaml", "networkpolicy.yaml"}
    for component in COMPONENTS:
        files = {path.name for path in (CHART / "templates" / component).iterdir()}
        assert shared <= files, f"{component} lacks {shared - files}"
        assert ("scaledobject.yaml" in files) == (component in WORKERS), component
    assert not (CHART / "requirements.yaml").exists()
    assert "dependencies" not in yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))


def _readme_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chart_readme", ROOT / "scripts" / "chart_readme.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_every_value_is_documented() -> None:
    """Each value has a `# --` comment, itself or through a documented parent."""
    assert _readme_script().undocumented(CHART) == []


def test_readme_is_generated_from_the_values() -> None:
    """README.md is what scripts/chart_readme.py generates (run it after changing values.yaml)."""
    readme = _readme_script().render(CHART)
    assert (CHART / "README.md").read_text(encoding="utf-8") == readme
    for key in ("`nats.mode`", "`postgresql.mode`", "`ingress.smtp.externalTrafficPolicy`"):
        assert key in readme


def test_readme_documents_a_new_value(tmp_path: Path) -> None:
    """The generator picks up a new documented value, and reports an undocumented one."""
    script = _readme_script()
    copy = tmp_path / "mss"
    shutil.copytree(CHART, copy)
    values = copy / "values.yaml"
    text = values.read_text(encoding="utf-8")
    values.write_text(text + "\n# -- A new knob\nnewKnob: 3\nundocumentedKnob: 4\n", encoding="utf-8")
    assert "| `newKnob` | int | `3` | A new knob |" in script.render(copy)
    assert script.undocumented(copy) == ["undocumentedKnob"]


def _objects(rendered: Rendered) -> Iterator[tuple[str, str]]:
    for obj in rendered.objects:
        yield obj["kind"], obj["metadata"]["name"]


def test_names_are_unique(rendered: Rendered) -> None:
    """No two objects of one kind share a name (Helm would refuse the release)."""
    seen = list(_objects(rendered))
    assert len(seen) == len(set(seen))
