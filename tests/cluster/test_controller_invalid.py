"""Bad inputs never crash the controller: they become conditions on the DataFlow and Warning
Events, whether the core finds the fault or the API server refuses an object, and fixing the
input heals the DataFlow."""

from __future__ import annotations

import json
from typing import Any

from controller_fixtures import *  # noqa: F403
from controller_fixtures import calc_inputs, dataflow, inventory, wait_for
from kubernetes import client

from kasugai.testing.controller import ControllerProcess
from kasugai.testing.inputs import apply_objects


def _condition(kube: client.ApiClient, namespace: str, name: str, kind: str) -> dict[str, Any]:
    status = (dataflow(kube, namespace, name) or {}).get("status") or {}
    return {c["type"]: c for c in status.get("conditions") or []}.get(kind) or {}


def _events(kube: client.ApiClient, namespace: str, name: str) -> list[Any]:
    found = client.CoreV1Api(kube).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    )
    return list(found.items)


def _warning(kube: client.ApiClient, namespace: str, name: str, reason: str) -> Any:
    matches = [
        e for e in _events(kube, namespace, name) if e.reason == reason and e.type == "Warning"
    ]
    return matches[0] if matches else None


def test_invalid_inputs_become_conditions_and_events(
    kube: client.ApiClient, shared_namespace: str, shared_controller: ControllerProcess
) -> None:
    namespace = shared_namespace
    inputs = calc_inputs(namespace)
    chain = next(obj for obj in inputs if obj["kind"] == "FunctionChain")
    chain["spec"]["connections"][1]["to"]["functionKey"] = "plsu"  # a typo
    flow = next(obj for obj in inputs if obj["kind"] == "DataFlow")
    missing = json.loads(json.dumps(flow))
    missing["metadata"]["name"] = "df-missing"
    missing["spec"]["functionChainRef"]["name"] = "no-such-chain"
    apply_objects(kube, [*inputs, missing])

    resolved = wait_for(
        lambda: (
            _condition(kube, namespace, "df-calcapp", "Resolved").get("reason") == "InvalidSpec"
            and _condition(kube, namespace, "df-calcapp", "Resolved")
        ),
        "the DataFlow to report the invalid chain",
    )
    assert resolved["status"] == "False"
    assert "plsu" in resolved["message"]
    assert resolved["lastTransitionTime"]
    assert dataflow(kube, namespace, "df-calcapp")["status"]["status"] == "Error"
    event = wait_for(
        lambda: _warning(kube, namespace, "df-calcapp", "InvalidInput"), "a Warning Event"
    )
    assert "plsu" in event.message
    assert event.involved_object.kind == "DataFlow"
    assert event.source.component == "kasugai-controller"

    waiting = wait_for(
        lambda: (
            _condition(kube, namespace, "df-missing", "Resolved").get("reason")
            == "WaitingForInputs"
            and _condition(kube, namespace, "df-missing", "Resolved")
        ),
        "the other DataFlow to wait for its chain",
    )
    assert "no-such-chain" in waiting["message"]
    assert dataflow(kube, namespace, "df-missing")["status"]["status"] == "Pending"
    assert not inventory(kube, namespace)  # nothing is deployed from a broken chain
    assert shared_controller.get("/healthz")[0] == 200

    chain["spec"]["connections"][1]["to"]["functionKey"] = "plus"
    apply_objects(kube, [chain])
    wait_for(
        lambda: (dataflow(kube, namespace, "df-calcapp") or {})["status"]["status"] == "Deployed",
        "the fixed chain to deploy",
    )


def test_an_object_the_api_server_refuses_is_reported_and_the_rest_is_written(
    kube: client.ApiClient, shared_namespace: str, shared_controller: ControllerProcess
) -> None:
    namespace = shared_namespace
    inputs = calc_inputs(namespace)
    config = next(obj for obj in inputs if obj["metadata"]["name"].endswith("calcapp-plus"))
    ((key, text),) = config["data"].items()
    config["data"][key] = text.replace('"memory": "1Gi"', '"memory": "lots"')
    assert config["data"][key] != text
    apply_objects(kube, inputs)

    applied = wait_for(
        lambda: _condition(kube, namespace, "df-calcapp", "Applied"), "an Applied condition"
    )
    assert applied["status"] == "False"
    assert applied["reason"] == "ApplyFailed"
    assert "df-calcapp-wbfunction-plus-cpu-pod" in applied["message"]
    assert "quantities must match" in applied["message"]
    event = wait_for(
        lambda: _warning(kube, namespace, "df-calcapp", "ApplyFailed"), "an ApplyFailed Event"
    )
    assert "lots" in event.message or "quantities" in event.message
    # Everything else was written: 6 Pods, 7 Services, 7 ConfigMaps.
    wait_for(lambda: len(inventory(kube, namespace)) == 20, "the other 20 objects")
    assert shared_controller.get("/healthz")[0] == 200

    config["data"][key] = text
    apply_objects(kube, [config])
    wait_for(lambda: len(inventory(kube, namespace)) == 21, "the plus Pod, once fixed")
    wait_for(
        lambda: not _condition(kube, namespace, "df-calcapp", "Applied"),
        "the Applied condition to go",
    )


def test_a_pod_refused_by_pod_security_is_created_once_the_namespace_allows_it(
    kube: client.ApiClient, shared_namespace: str, shared_controller: ControllerProcess
) -> None:
    """SECURITY.md's remedy for the original samples' SYS_PTRACE: relabel the namespace. Nothing
    kasugai watches changes then, so only its retry of the refused writes can create the Pods."""
    namespace = shared_namespace
    core = client.CoreV1Api(kube)
    enforce = "pod-security.kubernetes.io/enforce"
    core.patch_namespace(namespace, {"metadata": {"labels": {enforce: "baseline"}}})
    apply_objects(kube, calc_inputs(namespace))  # the sample's sidecars add SYS_PTRACE

    applied = wait_for(
        lambda: _condition(kube, namespace, "df-calcapp", "Applied"), "an Applied condition"
    )
    assert 'violates PodSecurity "baseline:latest"' in applied["message"]
    assert "SYS_PTRACE" in applied["message"]
    assert not [kind for kind, _ in inventory(kube, namespace) if kind == "Pod"]

    core.patch_namespace(namespace, {"metadata": {"labels": {enforce: "privileged"}}})
    wait_for(
        lambda: len([kind for kind, _ in inventory(kube, namespace) if kind == "Pod"]) == 7,
        "the 7 Pods, once the namespace allows them",
        timeout=120,
    )
    wait_for(
        lambda: not _condition(kube, namespace, "df-calcapp", "Applied"),
        "the Applied condition to go",
    )
