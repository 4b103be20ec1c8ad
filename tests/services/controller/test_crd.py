"""The MssTenant CRD shipped by the chart: a valid CustomResourceDefinition, whose OpenAPI schema
accepts and refuses the same resources as the controller's models."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import kubernetes_validate
import pytest
import yaml
from mss.controller.spec import GROUP, KIND, PLURAL, VERSION, TenantSpec
from pydantic import ValidationError

CRD = Path(__file__).parents[3] / "charts" / "mss" / "crds" / "msstenant.yaml"
GOOD = {
    "apiVersion": f"{GROUP}/{VERSION}",
    "kind": KIND,
    "metadata": {"name": "chu-nord", "namespace": "mss"},
    "spec": {
        "establishment": "chu-nord",
        "name": "CHU Nord",
        "finess": "590000001",
        "domains": [
            {"name": "chu-nord.mssante.fr", "mode": "saas"},
            {"name": "ch-sud.mssante.fr", "mode": "proxy", "smarthost": "exchange.ch-sud.local:25"},
        ],
        "mailboxes": [
            {"address": "jean.dupont@chu-nord.mssante.fr", "type": "PER", "ownerRpps": "10000000001"},
            {"address": "dpi@chu-nord.mssante.fr", "type": "APP", "certificateDn": "CN=dpi,O=CHU Nord,C=FR"},
        ],
        "certificateSecrets": ["chu-nord-dpi-tls"],
    },
}


def crd() -> dict[str, Any]:
    return dict(yaml.safe_load(CRD.read_text(encoding="utf-8")))


def schema() -> dict[str, Any]:
    (version,) = crd()["spec"]["versions"]
    return dict(version["schema"]["openAPIV3Schema"])


def with_spec(**changes: Any) -> dict[str, Any]:
    resource = copy.deepcopy(GOOD)
    resource["spec"].update(changes)
    return resource


@pytest.mark.parametrize("kubernetes", ["1.31", "1.35"])
def test_the_crd_is_a_valid_custom_resource_definition(kubernetes: str) -> None:
    definition = crd()
    kubernetes_validate.validate(definition, kubernetes, strict=True)
    names = definition["spec"]["names"]
    assert (definition["spec"]["group"], names["kind"], names["plural"]) == (GROUP, KIND, PLURAL)
    (version,) = definition["spec"]["versions"]
    assert (version["name"], version["subresources"]) == (VERSION, {"status": {}})


def test_a_good_resource_is_accepted_by_both() -> None:
    jsonschema.validate(GOOD, schema())
    TenantSpec.model_validate(GOOD["spec"])


@pytest.mark.parametrize(
    "resource",
    [
        with_spec(establishment="CHU Nord"),
        with_spec(finess="59000000"),
        with_spec(domains=[{"name": "chu-nord.mssante.fr", "mode": "relay"}]),
        with_spec(mailboxes=[{"address": "jean.dupont@chu-nord.mssante.fr", "type": "BOT"}]),
        with_spec(mailboxes=[{"address": "Jean.Dupont@chu-nord.mssante.fr", "type": "PER"}]),
        with_spec(mailboxes=[{"address": "a@chu-nord.mssante.fr", "type": "PER", "ownerRpps": "123"}]),
        with_spec(certificateSecrets=["Not_A_Name"]),
    ],
)
def test_a_bad_resource_is_refused_by_both(resource: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(resource, schema())
    with pytest.raises(ValidationError):
        TenantSpec.model_validate(resource["spec"])


def walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every schema node, with its path."""
    found = [(path, node)]
    for name, child in node.get("properties", {}).items():
        found += walk(child, f"{path}.{name}")
    if "items" in node:
        found += walk(node["items"], f"{path}[]")
    return found


def test_the_schema_is_structural_and_its_rules_are_cheap() -> None:
    """What the API server demands of a CRD beyond its shape: no additionalProperties beside properties
    (unknown fields are pruned instead), and CEL rules over bounded values only."""
    for path, node in walk(schema()):
        assert not ("properties" in node and "additionalProperties" in node), path
        if "x-kubernetes-validations" in node:
            bounded = [child for _, child in walk(node) if child.get("type") == "string"]
            assert all("maxLength" in child or "enum" in child for child in bounded), path


def test_unknown_fields_are_pruned_by_the_server_and_refused_by_the_models() -> None:
    extra = with_spec(domains=[{"name": "chu-nord.mssante.fr", "mode": "saas", "colour": "blue"}])
    jsonschema.validate(extra, schema())  # the server drops "colour" when it stores the resource
    with pytest.raises(ValidationError, match="colour"):
        TenantSpec.model_validate(extra["spec"])


def cel_problems(resource: dict[str, Any]) -> list[str]:
    """The messages of the CRD's CEL rules (x-kubernetes-validations) that ``resource`` breaks, evaluated
    as the API server would."""
    problems = []
    env = celpy.Environment()
    for path, node in walk(schema()):
        for rule in node.get("x-kubernetes-validations", []):
            if rule["rule"] == "self == oldSelf":
                continue  # a transition rule: only on updates
            program = env.program(env.compile(rule["rule"]))
            for value in values_at(resource, path):
                if not program.evaluate({"self": celpy.json_to_cel(value)}):
                    problems.append(rule["message"])
    return problems


def values_at(resource: dict[str, Any], path: str) -> list[Any]:
    """The values of ``resource`` at a schema path such as ``.spec.domains[]``."""
    values: list[Any] = [resource]
    for part in path.strip(".").split(".") if path else []:
        name, many = part.removesuffix("[]"), part.endswith("[]")
        values = [v[name] for v in values if name in v]
        if many:
            values = [item for v in values for item in v]
    return values


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"domains": [{"name": "chu-nord.mssante.fr", "mode": "proxy"}]},
            "a smarthost is required in proxy mode and refused in saas mode",
        ),
        (
            {"domains": [{"name": "chu-nord.mssante.fr", "mode": "saas", "smarthost": "x.local:25"}]},
            "a smarthost is required in proxy mode and refused in saas mode",
        ),
    ],
)
def test_the_cel_rules_refuse_what_the_models_refuse(change: dict[str, Any], message: str) -> None:
    resource = with_spec(**change)
    jsonschema.validate(resource, schema())  # structurally fine: only the CEL rules catch it
    assert cel_problems(resource) == [message]
    with pytest.raises(ValidationError):
        TenantSpec.model_validate(resource["spec"])
    assert cel_problems(GOOD) == []


def test_a_mailbox_outside_the_domains_is_the_controllers_to_refuse() -> None:
    outside = with_spec(mailboxes=[{"address": "a@ailleurs.mssante.fr", "type": "PER"}])
    jsonschema.validate(outside, schema())
    assert cel_problems(outside) == []
    with pytest.raises(ValidationError, match="outside the establishment's domains"):
        TenantSpec.model_validate(outside["spec"])
