"""Connection ConfigMaps follow the addresses the cluster hands out: written once an address
appears (load-balancer ingress, SR-IOV network status, a clusterIP), rewritten when it moves,
kept when it is lost, and never written when nothing they hold changed. The tests play MetalLB,
Multus and the kubelet by hand (``kasugai.testing.fake_kubelet``)."""

from __future__ import annotations

import json
from typing import Any

from controller_fixtures import *  # noqa: F403
from controller_fixtures import SAMPLES, calc_inputs, dataflow, inventory, wait_for
from kubernetes import client

from kasugai.adapters.kube.api import KubeApi
from kasugai.testing.fake_kubelet import set_load_balancer_ips, set_network_status, set_pod_status
from kasugai.testing.inputs import apply_objects, load, relocated

UDP_5678 = [{"port": 5678, "protocol": "UDP"}]


def _configmap(kube: client.ApiClient, namespace: str, pod: str) -> dict[str, Any] | None:
    return KubeApi(kube).get("ConfigMap", namespace, f"ethcrl.{pod}")


def _config_is(kube: client.ApiClient, namespace: str, pod: str, ips: list[str]) -> Any:
    """The ConfigMap once it points at ``ips`` (port 5678/UDP)."""
    found = _configmap(kube, namespace, pod)
    if found and json.loads(found["data"]["config"]) == {"ips": ips, "ports": UDP_5678}:
        return found
    return None


def _phases(kube: client.ApiClient, namespace: str, name: str) -> set[str]:
    status = (dataflow(kube, namespace, name) or {}).get("status") or {}
    return {function["phase"] for function in status.get("functions") or []}


def _version(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["resourceVersion"])


def test_load_balancer_ingress_fills_moves_and_is_kept_when_lost(
    kube: client.ApiClient, shared_namespace: str
) -> None:
    namespace = shared_namespace
    inputs = relocated(load(SAMPLES / "cpugpu-func" / "p1c1"), namespace)
    for obj in inputs:  # p1c2: the receiver behind a load balancer too
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].endswith("-rcv"):
            obj["data"] = {
                key: value.replace('"clusterip"', '"loadbalancer"')
                for key, value in obj["data"].items()
            }
    apply_objects(kube, inputs)
    pip, rcv = "df-cpu-p1c1-wbfunction-pip-cpu-pod", "df-cpu-p1c1-wbfunction-rcv-cpu-pod"
    rcv_service = "df-cpu-p1c1-wbfunction-rcv-service"

    found = wait_for(lambda: _configmap(kube, namespace, rcv), "the last function's ConfigMap")
    assert json.loads(found["data"]["config"]) == {}
    wait_for(lambda: _count(kube, namespace, "Service") == 2, "both Services")
    assert _configmap(kube, namespace, pip) is None  # no ingress yet: nothing to publish
    waiting = (dataflow(kube, namespace, "df-cpu-p1c1") or {})["status"]
    assert waiting["status"] == "Deploying"
    assert waiting["connections"][0]["state"] == "Waiting"

    set_load_balancer_ips(kube, namespace, rcv_service, ["127.2.0.10"])
    first = wait_for(lambda: _config_is(kube, namespace, pip, ["127.2.0.10"]), "the address")
    set_load_balancer_ips(kube, namespace, rcv_service, ["127.2.0.11"])
    moved = wait_for(lambda: _config_is(kube, namespace, pip, ["127.2.0.11"]), "the new address")
    assert _version(moved) != _version(first)

    # The kubelet reports both Pods Running: the status follows, the ConfigMaps are not written.
    for pod in (pip, rcv):
        set_pod_status(kube, namespace, pod, "Running", "127.1.0.50")
    wait_for(lambda: _phases(kube, namespace, "df-cpu-p1c1") == {"Running"}, "Running Pods")
    assert _version(_configmap(kube, namespace, pip) or {}) == _version(moved)

    # The address is lost: the function keeps its last destination, the DataFlow says why.
    set_load_balancer_ips(kube, namespace, rcv_service, [])

    def degraded() -> dict[str, Any] | None:
        status = (dataflow(kube, namespace, "df-cpu-p1c1") or {}).get("status") or {}
        return status if status.get("status") == "Degraded" else None

    status = wait_for(degraded, "the DataFlow to be Degraded")
    assert status["connections"][0]["state"] == "Stale"
    published = {c["type"]: c for c in status["conditions"]}["ConnectionsPublished"]
    assert (published["status"], published["reason"]) == ("False", "Stale")
    assert _version(_configmap(kube, namespace, pip) or {}) == _version(moved)


def test_sriov_addresses_come_from_the_network_status(
    kube: client.ApiClient, shared_namespace: str
) -> None:
    namespace = shared_namespace
    apply_objects(kube, relocated(load(SAMPLES / "cpugpu-func" / "p3c1"), namespace))
    pip, rcv = "df-cpu-p3c1-wbfunction-pip-cpu-pod", "df-cpu-p3c1-wbfunction-rcv-cpu-pod"
    wait_for(lambda: _count(kube, namespace, "Pod") == 2, "both Pods")
    assert _count(kube, namespace, "Service") == 0  # sriov: no Services at all
    assert _configmap(kube, namespace, pip) is None

    set_network_status(kube, namespace, rcv, ["127.3.0.20"])
    first = wait_for(lambda: _config_is(kube, namespace, pip, ["127.3.0.20"]), "the VF address")
    set_network_status(kube, namespace, rcv, ["127.3.0.21"])
    moved = wait_for(lambda: _config_is(kube, namespace, pip, ["127.3.0.21"]), "the new VF")
    assert _version(moved) != _version(first)

    for pod in (pip, rcv):
        set_pod_status(kube, namespace, pod, "Running", "127.1.0.60")
    wait_for(lambda: _phases(kube, namespace, "df-cpu-p3c1") == {"Running"}, "Running Pods")
    assert _version(_configmap(kube, namespace, pip) or {}) == _version(moved)


def test_deleted_objects_come_back_and_a_new_clusterip_is_published(
    kube: client.ApiClient, shared_namespace: str, fake_kubelet: Any
) -> None:
    namespace = shared_namespace
    apply_objects(kube, calc_inputs(namespace))
    fake_kubelet(namespace)
    plus_service = "df-calcapp-wbfunction-plus-service"
    send_pod = "df-calcapp-wbfunction-send-cpu-pod"
    before = wait_for(lambda: _complete(kube, namespace), "the calc chain's 21 objects")
    core = client.CoreV1Api(kube)
    core.delete_namespaced_service(plus_service, namespace)
    core.delete_namespaced_pod(send_pod, namespace)

    def replaced() -> dict[tuple[str, str], dict[str, Any]] | None:
        found = _complete(kube, namespace) or {}
        keys = (("Service", plus_service), ("Pod", send_pod))
        new = all(k in found and _uid(found[k]) != _uid(before[k]) for k in keys)
        return found if new else None

    after = wait_for(replaced, "the Service and the Pod to be created again")
    cluster_ip = after[("Service", plus_service)]["spec"]["clusterIP"]
    wait_for(
        lambda: _config_ips(kube, namespace, send_pod) == [cluster_ip],
        "send's ConfigMap to carry plus's new clusterIP",
    )

    # Deleting the DataFlow deletes everything it owns (no garbage collector runs here).
    client.CustomObjectsApi(kube).delete_namespaced_custom_object(
        "example.com", "v1", namespace, "dataflows", "df-calcapp"
    )
    wait_for(lambda: not inventory(kube, namespace), "every object of the DataFlow to go")


def _complete(kube: client.ApiClient, namespace: str) -> dict[tuple[str, str], Any] | None:
    found = inventory(kube, namespace)
    return found if len(found) == 21 else None


def _count(kube: client.ApiClient, namespace: str, kind: str) -> int:
    return sum(1 for found, _ in inventory(kube, namespace) if found == kind)


def _uid(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["uid"])


def _config_ips(kube: client.ApiClient, namespace: str, pod: str) -> list[str] | None:
    found = _configmap(kube, namespace, pod)
    return json.loads(found["data"]["config"]).get("ips") if found else None
