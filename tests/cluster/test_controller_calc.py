"""The controller on the calc sample: it writes what ``kasugai plan`` plans, owns all of it, writes
each object once, rewires on a chain edit, and then writes nothing at all."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from controller_fixtures import *  # noqa: F403
from controller_fixtures import (
    calc_inputs,
    dataflow,
    drop_minus,
    inventory,
    wait_for,
    wait_for_status,
)
from kubernetes import client

from kasugai.adapters.files import to_yaml
from kasugai.core.diff import covers
from kasugai.testing.controller import KASUGAI
from kasugai.testing.inputs import apply_objects

DATAFLOW = "df-calcapp"
FUNCTIONS = ("send", "plus", "minus", "multiply", "divide", "average", "rcv")


def _plan(tmp_path: Path, inputs: list[dict[str, Any]], facts: list[dict[str, Any]]) -> list[Any]:
    """What ``kasugai plan`` plans for the inputs, given the live Services as facts."""
    (tmp_path / "inputs.yaml").write_text("---\n".join(map(to_yaml, inputs)))
    (tmp_path / "facts.yaml").write_text("---\n".join(map(to_yaml, facts)))
    result = subprocess.run(
        [
            str(KASUGAI),
            "plan",
            "-f",
            str(tmp_path / "inputs.yaml"),
            "-f",
            str(tmp_path / "facts.yaml"),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)["items"]
    return [item for item in items if item["kind"] in ("Pod", "Service", "ConfigMap")]


def _config(objects: dict[tuple[str, str], dict[str, Any]], key: str) -> Any:
    found = objects.get(("ConfigMap", f"ethcrl.{DATAFLOW}-wbfunction-{key}-cpu-pod"))
    return json.loads(found["data"]["config"]) if found else None


def _complete(kube: client.ApiClient, namespace: str) -> dict[tuple[str, str], Any] | None:
    found = inventory(kube, namespace)
    return found if len(found) == 21 else None


def _cluster_ip(objects: dict[tuple[str, str], dict[str, Any]], key: str) -> str:
    return str(objects[("Service", f"{DATAFLOW}-wbfunction-{key}-service")]["spec"]["clusterIP"])


def _all_running(kube: client.ApiClient, namespace: str) -> dict[str, Any] | None:
    """The DataFlow once Deployed with every function Running."""
    found = dataflow(kube, namespace, DATAFLOW) or {}
    status = found.get("status") or {}
    phases = {f["phase"] for f in status.get("functions") or []}
    return found if status.get("status") == "Deployed" and phases == {"Running"} else None


def test_calc_sample_yields_exactly_the_objects_kasugai_plan_yields(
    kube: client.ApiClient, shared_namespace: str, fake_kubelet: Any, tmp_path: Path
) -> None:
    namespace = shared_namespace
    inputs = calc_inputs(namespace)
    apply_objects(kube, inputs)
    fake_kubelet(namespace)
    deployed = wait_for_status(kube, namespace, DATAFLOW, "Deployed")
    live = wait_for(lambda: _complete(kube, namespace), "7 Pods, 7 Services and 7 ConfigMaps")

    services = [obj for (kind, _), obj in live.items() if kind == "Service"]
    planned = _plan(tmp_path, inputs, services)
    assert {(obj["kind"], obj["metadata"]["name"]) for obj in planned} == set(live)
    for obj in planned:
        have = live[(obj["kind"], obj["metadata"]["name"])]
        assert covers(obj, have), f"{obj['kind']} {obj['metadata']['name']}:\n{to_yaml(obj)}"

    owner = {
        "apiVersion": "example.com/v1",
        "kind": "DataFlow",
        "name": DATAFLOW,
        "uid": deployed["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    for obj in live.values():
        assert obj["metadata"]["ownerReferences"] == [owner], obj["metadata"]["name"]
    # Each connection points at the next function's clusterIP; the last function gets {}.
    for source, target in itertools.pairwise(FUNCTIONS):
        config = _config(live, source)
        assert config == {
            "ips": [_cluster_ip(live, target)],
            "ports": [{"port": 8080, "protocol": "TCP"}],
        }
    assert _config(live, "rcv") == {}


def test_a_chain_edit_rewires_and_removes_what_left_the_chain(
    kube: client.ApiClient, shared_namespace: str, fake_kubelet: Any
) -> None:
    namespace = shared_namespace
    inputs = calc_inputs(namespace)
    apply_objects(kube, inputs)
    fake_kubelet(namespace)
    wait_for_status(kube, namespace, DATAFLOW, "Deployed")
    before = inventory(kube, namespace)
    assert _config(before, "plus")["ips"] == [_cluster_ip(before, "minus")]

    chain = next(obj for obj in inputs if obj["kind"] == "FunctionChain")
    drop_minus(chain)
    apply_objects(kube, [chain])

    def rewired() -> dict[tuple[str, str], dict[str, Any]] | None:
        found = inventory(kube, namespace)
        gone = not any("-minus-" in name for _, name in found)
        pointed = (_config(found, "plus") or {}).get("ips") == [_cluster_ip(found, "multiply")]
        return found if gone and pointed else None

    after = wait_for(rewired, "plus to point at multiply, and minus's objects to be deleted")
    assert len(after) == 18
    # Nothing else moved: the other functions' objects are the very same ones.
    for key, obj in after.items():
        if "-plus-" not in key[1]:
            assert obj["metadata"]["uid"] == before[key]["metadata"]["uid"], key
    status = wait_for_status(kube, namespace, DATAFLOW, "Deployed")["status"]
    assert [(c["from"], c["to"]) for c in status["connections"]] == [
        ("send", "plus"),
        ("plus", "multiply"),
        ("multiply", "divide"),
        ("divide", "average"),
        ("average", "rcv"),
    ]


def test_each_object_is_written_once_and_the_steady_state_writes_nothing(
    kube: client.ApiClient, namespace: str, own_controller: Any, fake_kubelet: Any
) -> None:
    controller = own_controller(namespace)
    wait_for(controller.ready, "the controller to be ready")
    apply_objects(kube, calc_inputs(namespace))
    fake_kubelet(namespace)
    wait_for(lambda: _all_running(kube, namespace), "every function to be Running")

    # One create per object (7 functions, 6 objects each), then one apply that puts kasugai's
    # fields on record (a create records none): no retry, no rewrite of a stale view.
    for kind in ("ServiceAccount", "Role", "RoleBinding", "Pod", "Service", "ConfigMap"):
        assert controller.writes(verb="create", kind=kind) == 7, kind
        assert controller.writes(verb="apply", kind=kind) == 7, kind

    def settled() -> tuple[float, dict[Any, str]] | None:
        """Writes and resourceVersions, once unchanged over a few seconds."""
        first = (controller.writes(), _versions(kube, namespace))
        time.sleep(3)
        return first if first == (controller.writes(), _versions(kube, namespace)) else None

    writes, versions = wait_for(settled, "the controller to settle")
    time.sleep(30)  # the window the steady state is observed in, not a timing assertion
    assert controller.writes() == writes
    assert _versions(kube, namespace) == versions
    assert controller.total("kasugai_controller_planned_actions_total") == 42


def _versions(kube: client.ApiClient, namespace: str) -> dict[Any, str]:
    """resourceVersion of every kasugai object and of the DataFlow (its status)."""
    found = {
        key: obj["metadata"]["resourceVersion"] for key, obj in inventory(kube, namespace).items()
    }
    flow = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        "example.com", "v1", namespace, "dataflows", DATAFLOW
    )
    found[("DataFlow", DATAFLOW)] = flow["metadata"]["resourceVersion"]
    return found


def test_a_changed_pod_spec_replaces_that_pod_only(
    kube: client.ApiClient, shared_namespace: str, fake_kubelet: Any
) -> None:
    namespace = shared_namespace
    inputs = calc_inputs(namespace)
    apply_objects(kube, inputs)
    fake_kubelet(namespace)
    # Deployed first: until then a connection ConfigMap may still be on its way to final.
    wait_for_status(kube, namespace, DATAFLOW, "Deployed")
    before = wait_for(lambda: _complete(kube, namespace), "the calc chain's 21 objects")

    config = next(obj for obj in inputs if obj["metadata"]["name"].endswith("calcapp-plus"))
    ((key, text),) = config["data"].items()
    entries = json.loads(text)
    entries[0]["envs"]["CALC_DEBUG"] = "1"
    config["data"][key] = json.dumps(entries)
    apply_objects(kube, [config])

    pod = ("Pod", f"{DATAFLOW}-wbfunction-plus-cpu-pod")

    def replaced() -> dict[tuple[str, str], Any] | None:
        found = _complete(kube, namespace)
        if not found or found[pod]["metadata"]["uid"] == before[pod]["metadata"]["uid"]:
            return None
        return found

    after = wait_for(replaced, "the plus Pod to be replaced")
    env = {e["name"]: e.get("value") for e in after[pod]["spec"]["containers"][0]["env"]}
    assert env["CALC_DEBUG"] == "1"
    for found, obj in after.items():  # everything else is the same object; no ConfigMap moved
        if found != pod:
            assert obj["metadata"]["uid"] == before[found]["metadata"]["uid"], found
        if found[0] == "ConfigMap":
            version = before[found]["metadata"]["resourceVersion"]
            assert obj["metadata"]["resourceVersion"] == version, found
    reasons = {e.reason for e in client.CoreV1Api(kube).list_namespaced_event(namespace).items}
    assert {"Resolved", "AllReady"} <= reasons
    assert "AddressKnown" not in reasons  # a connection's routine move is logged, not an Event
