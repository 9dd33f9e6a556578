"""kasugai's CRDs on the real API server: every OpenKasugai sample is accepted unchanged (nothing
pruned), malformed objects are rejected with the path of the bad field, status is a subresource,
and kubectl shows the printer columns."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kasugai.testing import EphemeralCluster

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "openkasugai"
SAMPLE_FILES = ("functiontype.yaml", "functionchain.yaml", "df-cpufunc.yaml")
PLURALS = {
    "FunctionType": "functiontypes",
    "FunctionChain": "functionchains",
    "DataFlow": "dataflows",
}
SAMPLE_DIRS = sorted(path.parent for path in SAMPLES.glob("*/*/functionchain.yaml"))


def _create(api: client.ApiClient, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Create a kasugai object, rejecting unknown fields (so a pruning schema shows up)."""
    created: dict[str, Any] = client.CustomObjectsApi(api).create_namespaced_custom_object(
        "example.com", "v1", namespace, PLURALS[obj["kind"]], obj, field_validation="Strict"
    )
    return created


@pytest.mark.parametrize("sample", SAMPLE_DIRS, ids=lambda p: str(p.relative_to(SAMPLES)))
def test_every_sample_is_accepted_unchanged(
    kube: client.ApiClient, namespace: str, sample: Path
) -> None:
    documents = [
        doc for name in SAMPLE_FILES for doc in yaml.safe_load_all((sample / name).read_text())
    ]
    assert {doc["kind"] for doc in documents if doc} == set(PLURALS)
    for document in filter(None, documents):
        obj = copy.deepcopy(document)
        obj["metadata"]["namespace"] = namespace
        created = _create(kube, namespace, obj)
        assert created["spec"] == document["spec"], document["metadata"]["name"]


def _chain(**spec_changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "functions": {"send": {"functionName": "calcapp-send", "version": "1.0.0"}},
        "connections": [
            {
                "from": {"functionKey": "wb-start-of-chain", "port": 0},
                "to": {"functionKey": "send", "port": 0},
            },
        ],
    }
    spec.update(spec_changes)
    return {
        "apiVersion": "example.com/v1",
        "kind": "FunctionChain",
        "metadata": {"name": "chain"},
        "spec": spec,
    }


MALFORMED = {
    "chain without functions": (
        {
            "apiVersion": "example.com/v1",
            "kind": "FunctionChain",
            "metadata": {"name": "c"},
            "spec": {"connections": []},
        },
        "spec.functions: Required value",
    ),
    "function without version": (
        _chain(functions={"send": {"functionName": "calcapp-send"}}),
        "spec.functions.send.version: Required value",
    ),
    "negative port": (
        _chain(
            connections=[
                {
                    "from": {"functionKey": "send", "port": -1},
                    "to": {"functionKey": "rcv", "port": 0},
                }
            ]
        ),
        "spec.connections[0].from.port: Invalid value: -1",
    ),
    "connection without to": (
        _chain(connections=[{"from": {"functionKey": "send", "port": 0}}]),
        "spec.connections[0].to: Required value",
    ),
    "port as a string": (
        _chain(
            connections=[
                {
                    "from": {"functionKey": "send", "port": "zero"},
                    "to": {"functionKey": "rcv", "port": 0},
                }
            ]
        ),
        'spec.connections[0].from.port: Invalid value: "string": '
        "spec.connections[0].from.port in body must be of type integer",
    ),
    "functiontype without its functioninfo": (
        {
            "apiVersion": "example.com/v1",
            "kind": "FunctionType",
            "metadata": {"name": "t"},
            "spec": {"functionName": "calcapp-send", "version": "1.0.0"},
        },
        "spec.functionInfoCMRef: Required value",
    ),
    "dataflow without a chain": (
        {
            "apiVersion": "example.com/v1",
            "kind": "DataFlow",
            "metadata": {"name": "d"},
            "spec": {"requirements": {"all": {"capacity": 1}}},
        },
        "spec.functionChainRef: Required value",
    ),
    "dataflow with an unknown field": (
        {
            "apiVersion": "example.com/v1",
            "kind": "DataFlow",
            "metadata": {"name": "d"},
            "spec": {"functionChainRef": {"name": "c"}, "functionchainref": {}},
        },
        'unknown field "spec.functionchainref"',
    ),
}


@pytest.mark.parametrize("obj, message", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_objects_are_rejected_naming_the_field(
    kube: client.ApiClient, namespace: str, obj: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApiException) as rejected:
        _create(kube, namespace, obj)
    assert rejected.value.status in (400, 422)
    assert message in json.loads(rejected.value.body)["message"]


def test_free_form_parameters_are_kept(kube: client.ApiClient, namespace: str) -> None:
    chain = _chain()
    chain["spec"]["functions"]["send"]["customParameter"] = {"rate": 3, "nested": {"a": [1]}}
    dataflow = {
        "apiVersion": "example.com/v1",
        "kind": "DataFlow",
        "metadata": {"name": "df"},
        "spec": {
            "functionChainRef": {"name": "chain"},
            "functionUserParameter": [{"functionKey": "send", "userParams": {"x": "1"}}],
            "startPoint": {"ip": "192.0.2.1", "port": 5678},
        },
    }
    assert _create(kube, namespace, chain)["spec"] == chain["spec"]
    assert _create(kube, namespace, dataflow)["spec"] == dataflow["spec"]


def test_status_is_a_subresource_shown_by_kubectl(
    cluster: EphemeralCluster, kube: client.ApiClient, namespace: str
) -> None:
    custom = client.CustomObjectsApi(kube)
    dataflow = {
        "apiVersion": "example.com/v1",
        "kind": "DataFlow",
        "metadata": {"name": "df-calc"},
        "spec": {"functionChainRef": {"name": "calcapp-chain"}},
        "status": {"status": "ignored on create"},
    }
    created = _create(kube, namespace, dataflow)
    assert "status" not in created  # the main resource ignores status
    custom.patch_namespaced_custom_object_status(
        "example.com",
        "v1",
        namespace,
        "dataflows",
        "df-calc",
        {"status": {"status": "Deployed", "observedGeneration": 1, "functions": {"send": {}}}},
    )

    shown = cluster.kubectl("get", "df", "-n", namespace)
    assert shown.returncode == 0, shown.stderr
    header, row = shown.stdout.splitlines()
    assert header.split() == ["NAME", "STATUS", "CHAIN", "AGE"]
    assert row.split()[:3] == ["df-calc", "Deployed", "calcapp-chain"]


FUNCTIONTYPE = {
    "apiVersion": "example.com/v1",
    "kind": "FunctionType",
    "metadata": {"name": "send"},
    "spec": {
        "functionName": "calcapp-send",
        "version": "1.0.0",
        "functionInfoCMRef": {"name": "funcinfo-calcapp-send"},
    },
}


@pytest.mark.parametrize("obj", [FUNCTIONTYPE, _chain()], ids=["ft", "fc"])
def test_functiontypes_and_chains_show_status_and_age(
    cluster: EphemeralCluster, kube: client.ApiClient, namespace: str, obj: dict[str, Any]
) -> None:
    created = _create(kube, namespace, obj)
    plural, name = PLURALS[obj["kind"]], created["metadata"]["name"]
    client.CustomObjectsApi(kube).patch_namespaced_custom_object_status(
        "example.com",
        "v1",
        namespace,
        plural,
        name,
        {"status": {"status": "Ready", "message": "", "conditions": []}},
    )
    shown = cluster.kubectl("get", plural, "-n", namespace)
    assert shown.returncode == 0, shown.stderr
    header, row = shown.stdout.splitlines()
    assert header.split() == ["NAME", "STATUS", "AGE"]
    assert row.split()[:2] == [name, "Ready"]


def test_kustomization_applies_with_kubectl(cluster: EphemeralCluster) -> None:
    crds = Path(__file__).resolve().parents[2] / "manifests" / "crds"
    applied = cluster.kubectl("apply", "--server-side", "--dry-run=server", "-k", str(crds))
    assert applied.returncode == 0, applied.stderr
    assert sorted(applied.stdout.split("\n"))[1:] == [
        "customresourcedefinition.apiextensions.k8s.io/dataflows.example.com serverside-applied"
        " (server dry run)",
        "customresourcedefinition.apiextensions.k8s.io/functionchains.example.com"
        " serverside-applied (server dry run)",
        "customresourcedefinition.apiextensions.k8s.io/functiontypes.example.com"
        " serverside-applied (server dry run)",
    ]
