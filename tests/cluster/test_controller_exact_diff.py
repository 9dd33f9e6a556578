"""Exact diffs on a real API server: what kasugai stops wanting goes, what other managers set
stays, and a Service port edited by hand is put back, the failure shown while it lasts, and never
wired into the upstream function."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from controller_fixtures import *  # noqa: F403
from controller_fixtures import (
    calc_inputs,
    dataflow,
    diff_cluster,
    inventory,
    wait_for,
    wait_for_status,
)
from kubernetes import client

from kasugai.adapters.files import to_yaml
from kasugai.adapters.kube.api import RESOURCES, KubeApi
from kasugai.testing import EphemeralCluster
from kasugai.testing.controller import ControllerProcess
from kasugai.testing.inputs import apply_objects

DATAFLOW = "df-calcapp"
PLUS_POD = f"{DATAFLOW}-wbfunction-plus-cpu-pod"
MINUS_SERVICE = f"{DATAFLOW}-wbfunction-minus-service"
PLUS_CONNECTION = f"ethcrl.{PLUS_POD}"
SOMEONE = "someone-else"  # another field manager: a person with kubectl, another controller


def _plus_config(inputs: list[dict[str, Any]]) -> tuple[dict[str, Any], str, list[Any]]:
    config = next(obj for obj in inputs if obj["metadata"]["name"].endswith("calcapp-plus"))
    ((key, text),) = config["data"].items()
    return config, key, json.loads(text)


def _set_entries(config: dict[str, Any], key: str, entries: list[Any]) -> dict[str, Any]:
    config["data"][key] = json.dumps(entries, indent=2)
    return config


def _pod(kube: client.ApiClient, namespace: str) -> dict[str, Any]:
    found = KubeApi(kube).get("Pod", namespace, PLUS_POD)
    assert found is not None
    return found


def _env(pod: dict[str, Any]) -> set[str]:
    return {e["name"] for c in pod["spec"]["containers"] for e in c.get("env") or []}


def _patch(kube: client.ApiClient, kind: str, namespace: str, name: str, ops: list[Any]) -> None:
    """A JSON patch as another field manager (what ``kubectl edit`` or ``patch`` send)."""
    KubeApi(kube).request(
        "PATCH",
        RESOURCES[kind].path(namespace, name),
        query=[("fieldManager", SOMEONE)],
        body=ops,
        content_type="application/json-patch+json",
    )


def test_a_label_and_an_env_entry_dropped_from_a_template_leave_the_pod(
    cluster: EphemeralCluster,
    kube: client.ApiClient,
    shared_namespace: str,
    fake_kubelet: Any,
    tmp_path: Path,
) -> None:
    namespace = shared_namespace
    inputs = calc_inputs(namespace)
    config, key, entries = _plus_config(inputs)
    entries[0]["labels"] = {"team": "a", "tier": "x"}
    entries[0]["envs"]["EXTRA"] = "1"
    apply_objects(kube, [_set_entries(config, key, entries), *inputs])
    fake_kubelet(namespace)
    wait_for_status(kube, namespace, DATAFLOW, "Deployed")

    def labelled() -> dict[str, Any] | None:
        pod = _pod(kube, namespace)
        return pod if "team" in pod["metadata"]["labels"] else None

    first = wait_for(labelled, "the plus Pod with the template's labels")
    assert "EXTRA" in _env(first)
    # Another manager labels the Pod and the connection ConfigMap kasugai manages.
    note = [{"op": "add", "path": "/metadata/labels/note", "value": "theirs"}]
    _patch(kube, "Pod", namespace, PLUS_POD, note)
    _patch(kube, "ConfigMap", namespace, PLUS_CONNECTION, note)

    same = diff_cluster(cluster, inputs, tmp_path / "same.yaml")
    assert (same.returncode, same.stdout) == (0, ""), same.stdout + same.stderr
    del entries[0]["labels"]["team"]
    _set_entries(config, key, entries)
    shown = diff_cluster(cluster, inputs, tmp_path / "edited.yaml")
    assert shown.returncode == 1, shown.stderr
    assert shown.stdout.splitlines()[0] == f"Pod/{namespace}/{PLUS_POD} configured"
    assert "-    team: a" in shown.stdout.splitlines()
    assert "note" not in shown.stdout  # another manager's label is none of kasugai's business
    assert _pod(kube, namespace)["metadata"]["labels"]["team"] == "a"  # a dry run
    apply_objects(kube, [config])

    def relabelled() -> dict[str, Any] | None:
        pod = _pod(kube, namespace)
        return pod if "team" not in pod["metadata"]["labels"] else None

    pod = wait_for(relabelled, "the label the template dropped to leave the Pod")
    assert pod["metadata"]["uid"] == first["metadata"]["uid"]  # a patch: the same Pod
    assert pod["metadata"]["labels"]["tier"] == "x"
    assert pod["metadata"]["labels"]["note"] == "theirs"  # another manager's label stays

    del entries[0]["envs"]["EXTRA"]
    apply_objects(kube, [_set_entries(config, key, entries)])

    def replaced() -> dict[str, Any] | None:
        found = KubeApi(kube).get("Pod", namespace, PLUS_POD)
        return found if found and found["metadata"]["uid"] != first["metadata"]["uid"] else None

    pod = wait_for(replaced, "the Pod to be replaced without the dropped env entry")
    assert "EXTRA" not in _env(pod)
    assert {"K8S_POD_NAME", "SIDECAR_MNG_PROSESS_NAME"} <= _env(pod)
    connection = inventory(kube, namespace)[("ConfigMap", PLUS_CONNECTION)]
    assert connection["metadata"]["labels"]["note"] == "theirs"
    wait_for_status(kube, namespace, DATAFLOW, "Deployed")


def _policy(namespace: str) -> list[dict[str, Any]]:
    """An admission policy refusing, as invalid, any update that gives a Service of
    ``namespace`` port 8080: kasugai's writes putting it back fail while it is bound."""
    name = f"hold-8080-{namespace}"
    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["UPDATE"],
                            "resources": ["services"],
                        }
                    ]
                },
                "validations": [
                    {
                        "expression": "!object.spec.ports.exists(p, p.port == 8080)",
                        "message": "port 8080 is held for maintenance",
                        "reason": "Invalid",
                    }
                ],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name},
            "spec": {
                "policyName": name,
                "validationActions": ["Deny"],
                "matchResources": {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
                },
            },
        },
    ]


def _applied_condition(kube: client.ApiClient, namespace: str) -> dict[str, Any]:
    status = (dataflow(kube, namespace, DATAFLOW) or {}).get("status") or {}
    return {c["type"]: c for c in status.get("conditions") or []}.get("Applied") or {}


def test_a_service_port_edited_by_hand_is_put_back_and_never_wired_upstream(
    cluster: EphemeralCluster,
    kube: client.ApiClient,
    shared_namespace: str,
    shared_controller: ControllerProcess,
    fake_kubelet: Any,
    tmp_path: Path,
) -> None:
    namespace = shared_namespace
    apply_objects(kube, calc_inputs(namespace))
    fake_kubelet(namespace)
    wait_for_status(kube, namespace, DATAFLOW, "Deployed")
    wait_for(lambda: len(inventory(kube, namespace)) == 21, "the 21 objects")
    seen_ports: set[int] = set()

    def upstream_ports() -> set[int]:
        """The ports the plus function is wired to, noted at every look."""
        found = KubeApi(kube).get("ConfigMap", namespace, PLUS_CONNECTION) or {}
        config = json.loads((found.get("data") or {}).get("config") or "{}")
        ports = {p["port"] for p in config.get("ports") or []}
        seen_ports.update(ports)
        return ports

    def service_ports() -> list[tuple[str, int]]:
        upstream_ports()
        found = KubeApi(kube).get("Service", namespace, MINUS_SERVICE) or {}
        return [(p.get("name", ""), p["port"]) for p in found["spec"]["ports"]]

    # While the policy is bound, putting port 8080 back is refused as invalid (a 422).
    policy = tmp_path / "policy.yaml"
    policy.write_text("---\n".join(map(to_yaml, _policy(namespace))))
    created = cluster.kubectl("apply", "-f", str(policy))
    assert created.returncode == 0, created.stderr

    def enforced() -> bool:
        dry = cluster.kubectl(
            "-n", namespace, "label", "service", MINUS_SERVICE, "probe=1", "--dry-run=server"
        )
        return dry.returncode != 0 and "held for maintenance" in dry.stderr

    wait_for(enforced, "the admission policy to be enforced")

    _patch(
        kube,
        "Service",
        namespace,
        MINUS_SERVICE,
        [{"op": "replace", "path": "/spec/ports/0/port", "value": 9999}],
    )

    def refused() -> dict[str, Any] | None:
        upstream_ports()
        condition = _applied_condition(kube, namespace)
        return condition if condition.get("status") == "False" else None

    applied = wait_for(refused, "the DataFlow to report the refused write")
    assert MINUS_SERVICE in applied["message"]
    assert "held for maintenance" in applied["message"]
    assert service_ports() == [("tcp-8080", 9999)]
    assert upstream_ports() == {8080}

    removed = cluster.kubectl("delete", "-f", str(policy))
    assert removed.returncode == 0, removed.stderr
    wait_for(
        lambda: service_ports() == [("tcp-8080", 8080)],
        "the Service port to be put back once the policy is gone",
        timeout=120,
    )
    wait_for(lambda: not _applied_condition(kube, namespace), "the Applied condition to go")
    assert upstream_ports() == {8080}
    assert seen_ports == {8080}, "the upstream function was wired to a port edited by hand"
    wait_for_status(kube, namespace, DATAFLOW, "Deployed")

    # The log says a write was accepted again only after the last refusal, never before.
    mine = f"{namespace}/{DATAFLOW}"
    lines = [e for e in shared_controller.log() if e.get("dataflow") == mine]
    events = [e["event"] for e in lines]
    assert "apply failed" in events
    last_failure = len(events) - 1 - events[::-1].index("apply failed")
    assert "every write accepted again" in events[last_failure:]
    assert "every write accepted again" not in events[:last_failure]
