"""The four sample scenarios planned offline with their facts: exact names, Services, Pods and
byte-exact connection ConfigMaps (docs/compatibility.md sections 3 and 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from core_helpers import CALC, FACTS, P1C1, P2C1, P3C1, engine_with, find

SCRAPED = {  # what every function Pod gets for Prometheus
    "prometheus.io/scrape": "true",
    "prometheus.io/port": "9464",
    "prometheus.io/path": "/metrics",
}
CALC_KEYS = ("send", "plus", "minus", "multiply", "divide", "average", "rcv")
OWNER = {
    "apiVersion": "example.com/v1",
    "kind": "DataFlow",
    "name": "",
    "controller": True,
    "blockOwnerDeletion": True,
}


def config_for(ip: str, port: int, protocol: str) -> str:
    return (
        "{\n"
        '  "ips": [\n'
        f'    "{ip}"\n'
        "  ],\n"
        '  "ports": [\n'
        "    {\n"
        f'      "port": {port},\n'
        f'      "protocol": "{protocol}"\n'
        "    }\n"
        "  ]\n"
        "}"
    )


def plan(scenario: Path, facts: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    engine = engine_with(scenario, FACTS / facts)
    (dataflow,) = engine.plans()
    return engine.desired(), dataflow.status


def test_calc_basic_names_and_order() -> None:
    desired, status = plan(CALC, "calc-basic")
    instances = [f"df-calcapp-wbfunction-{key}" for key in CALC_KEYS]
    assert [(o["kind"], o["metadata"]["name"]) for o in desired] == (
        [
            (kind, f"{i}-cpu-pod")
            for i in instances
            for kind in ("ServiceAccount", "Role", "RoleBinding")
        ]
        + [("Pod", f"{i}-cpu-pod") for i in instances]
        + [("Service", f"{i}-service") for i in instances]
        + [("ConfigMap", f"ethcrl.{i}-cpu-pod") for i in instances]
    )
    assert {o["metadata"]["namespace"] for o in desired} == {"cpufunc-calcapp"}
    assert status["status"] == "Deployed"


def test_calc_basic_services() -> None:
    desired, _ = plan(CALC, "calc-basic")
    services = [o for o in desired if o["kind"] == "Service"]
    send = services[0]
    assert send["spec"]["type"] == "LoadBalancer"
    assert send["metadata"]["annotations"] == {"metallb.universe.tf/address-pool": "cpufunc-pool"}
    assert [s["spec"]["type"] for s in services[1:]] == ["ClusterIP"] * 6
    assert all("annotations" not in s["metadata"] for s in services[1:])
    for service, key in zip(services, CALC_KEYS, strict=True):
        assert service["spec"]["selector"] == {
            "swb/func-type": "cpufunc",
            "swb/func-name": f"df-calcapp-wbfunction-{key}-cpu-pod",
        }
        assert service["spec"]["ports"] == [
            {"name": "tcp-8080", "port": 8080, "targetPort": 8080, "protocol": "TCP"}
        ]


def test_calc_basic_pod_fields() -> None:
    desired, _ = plan(CALC, "calc-basic")
    plus = find(desired, "Pod", "df-calcapp-wbfunction-plus-cpu-pod")
    assert plus["metadata"]["labels"] == {
        "swb/func-type": "cpufunc",
        "swb/func-name": "df-calcapp-wbfunction-plus-cpu-pod",
        "app.kubernetes.io/managed-by": "kasugai",
        "kasugai.io/dataflow": "df-calcapp",
        "kasugai.io/function-key": "plus",
    }
    assert plus["metadata"]["annotations"] == {
        "ethernet.swb.example.com/network": "clusterip",
        **SCRAPED,
    }
    assert plus["metadata"]["ownerReferences"] == [{**OWNER, "name": "df-calcapp"}]
    app, sidecar = plus["spec"]["containers"]
    env = [
        {"name": "SIDECAR_MNG_PROSESS_NAME", "value": "/calcapp"},
        {"name": "K8S_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {
            "name": "K8S_POD_NAMESPACE",
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
        },
    ]
    assert app == {
        "name": "cpu-container0",
        "image": "localhost/cpufunc_calcapp:latest",
        "imagePullPolicy": "IfNotPresent",
        "command": [
            "bash",
            "-c",
            "cp /config.yaml.tmpl /config/config.yaml.tmpl; "
            "/calcapp -server -port 8080 -operator plus",
        ],
        "volumeMounts": [{"name": "config-dir", "mountPath": "/config"}],
        "resources": {"requests": {"memory": "1Gi"}},
        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "env": env,
    }
    assert sidecar["name"] == "cpu-container1"
    assert sidecar["securityContext"] == {"capabilities": {"add": ["SYS_PTRACE"]}}
    assert sidecar["env"] == env
    assert {k: v for k, v in plus["spec"].items() if k != "containers"} == {
        # The Pod's own account, which may read its connection ConfigMap and nothing else.
        "serviceAccountName": "df-calcapp-wbfunction-plus-cpu-pod",
        "volumes": [{"name": "config-dir", "emptyDir": {}}],
        "restartPolicy": "Always",
        "shareProcessNamespace": True,
    }


def test_calc_basic_connection_configs_byte_exact() -> None:
    desired, status = plan(CALC, "calc-basic")
    configs = {
        o["metadata"]["name"]: o["data"]["config"] for o in desired if o["kind"] == "ConfigMap"
    }
    # Each function points at the next one's Service clusterIP (facts: 10.96.10x.1x).
    for index, key in enumerate(CALC_KEYS[:-1]):
        ip = f"10.96.{101 + index}.{11 + index}"
        name = f"ethcrl.df-calcapp-wbfunction-{key}-cpu-pod"
        assert configs[name] == config_for(ip, 8080, "TCP"), name
    assert configs["ethcrl.df-calcapp-wbfunction-rcv-cpu-pod"] == "{}"
    assert [c["destination"] for c in status["connections"]] == [
        f"10.96.{101 + i}.{11 + i}:8080/TCP" for i in range(6)
    ]
    assert status["functions"][0]["address"] == "172.18.255.200:8080/TCP"


def test_p1c1_udp_chain() -> None:
    desired, status = plan(P1C1, "p1c1")
    pip = find(desired, "ConfigMap", "ethcrl.df-cpu-p1c1-wbfunction-pip-cpu-pod")
    assert pip["data"]["config"] == config_for("10.96.200.11", 5678, "UDP")
    rcv = find(desired, "ConfigMap", "ethcrl.df-cpu-p1c1-wbfunction-rcv-cpu-pod")
    assert rcv["data"]["config"] == "{}"
    entry = find(desired, "Service", "df-cpu-p1c1-wbfunction-pip-service")
    assert entry["spec"]["type"] == "LoadBalancer"
    assert entry["spec"]["ports"] == [
        {"name": "udp-5678", "port": 5678, "targetPort": 5678, "protocol": "UDP"}
    ]
    rcv_service = find(desired, "Service", "df-cpu-p1c1-wbfunction-rcv-service")
    assert rcv_service["spec"]["type"] == "ClusterIP"
    pod = find(desired, "Pod", "df-cpu-p1c1-wbfunction-pip-cpu-pod")
    # pip is first: the RTP/TCP entry, whose command copies the pip template.
    assert "config-pip.yaml.tmpl" in pod["spec"]["containers"][0]["command"][2]
    assert {"name": "SIDECAR_MNG_PROSESS_NAME", "value": "wrapper"} in pod["spec"]["containers"][0][
        "env"
    ]
    assert status["status"] == "Deployed"


def test_p2c1_gpu_function() -> None:
    desired, status = plan(P2C1, "p2c1")
    dsa = find(desired, "Pod", "df-cpu-p2c1-wbfunction-dsa-gpu-pod")
    assert dsa["metadata"]["labels"]["swb/func-type"] == "gpufunc"
    assert dsa["metadata"]["labels"]["swb/func-name"] == "df-cpu-p2c1-wbfunction-dsa-gpu-pod"
    app, sidecar = dsa["spec"]["containers"]
    assert [app["name"], sidecar["name"]] == ["gpu-container0", "gpu-container1"]
    assert app["resources"] == {
        "requests": {"nvidia.com/gpu": "1"},
        "limits": {"nvidia.com/gpu": "1"},
    }
    assert sidecar["resources"] == {"requests": {"memory": "128Mi"}}
    assert app["workingDir"] == "/opt/nvidia/deepstream/deepstream-6.3"
    assert app["securityContext"] == {"privileged": True}
    names = [e["name"] for e in app["env"]]
    assert names == [
        "SIDECAR_MNG_PROSESS_NAME",
        "CUDA_MPS_PIPE_DIRECTORY",
        "CUDA_MPS_LOG_DIRECTORY",
        "GST_PLUGIN_PATH",
        "HEIGHT",
        "WIDTH",
        "K8S_POD_NAME",
        "K8S_POD_NAMESPACE",
    ]
    assert dsa["spec"]["hostIPC"] is True
    assert dsa["spec"]["hostNetwork"] is False
    assert dsa["spec"]["volumes"][0] == {
        "name": "host-nvidia-mps",
        "hostPath": {"path": "/tmp/nvidia-mps"},
    }
    service = find(desired, "Service", "df-cpu-p2c1-wbfunction-dsa-service")
    assert service["spec"]["selector"]["swb/func-type"] == "gpufunc"
    pip = find(desired, "ConfigMap", "ethcrl.df-cpu-p2c1-wbfunction-pip-cpu-pod")
    assert pip["data"]["config"] == config_for("10.96.201.11", 5678, "UDP")
    gpu = find(desired, "ConfigMap", "ethcrl.df-cpu-p2c1-wbfunction-dsa-gpu-pod")
    assert gpu["data"]["config"] == config_for("10.96.201.12", 5678, "UDP")
    rcv = find(desired, "ConfigMap", "ethcrl.df-cpu-p2c1-wbfunction-rcv-cpu-pod")
    assert rcv["data"]["config"] == "{}"
    assert status["status"] == "Deployed"


def test_p3c1_sriov() -> None:
    desired, status = plan(P3C1, "p3c1")
    assert not [o for o in desired if o["kind"] == "Service"]
    pod = find(desired, "Pod", "df-cpu-p3c1-wbfunction-pip-cpu-pod")
    assert pod["metadata"]["annotations"] == {
        "k8s.v1.cni.cncf.io/networks": "sriov-ipam-config",
        "ethernet.swb.example.com/network": "sriov",
        **SCRAPED,
    }
    app, sidecar = pod["spec"]["containers"]
    vf = "nvidia.com/mlnx_sriov_netdevice"
    assert app["resources"] == {
        "requests": {"memory": "1Gi", vf: "1"},
        "limits": {vf: "1"},
    }
    assert sidecar["resources"] == {"requests": {"memory": "128Mi"}}
    pip = find(desired, "ConfigMap", "ethcrl.df-cpu-p3c1-wbfunction-pip-cpu-pod")
    # The VF address from rcv's network-status, never its Pod IP (10.244.1.61).
    assert pip["data"]["config"] == config_for("192.174.90.12", 5678, "UDP")
    rcv = find(desired, "ConfigMap", "ethcrl.df-cpu-p3c1-wbfunction-rcv-cpu-pod")
    assert rcv["data"]["config"] == "{}"
    assert status["status"] == "Deployed"


@pytest.mark.parametrize(
    ("scenario", "waiting"),
    [(CALC, 6), (P1C1, 1), (P2C1, 2), (P3C1, 1)],
)
def test_without_facts_only_last_configmap_and_connections_wait(
    scenario: Path, waiting: int
) -> None:
    engine = engine_with(scenario)
    (dataflow,) = engine.plans()
    configmaps = [o for o in engine.desired() if o["kind"] == "ConfigMap"]
    assert [c["data"]["config"] for c in configmaps] == ["{}"]
    assert dataflow.state == "Deploying"
    assert [c.state for c in dataflow.connections] == ["Waiting"] * waiting
    assert "not observed yet" in dataflow.connections[0].reason


@pytest.mark.parametrize(
    ("scenario", "facts", "dataflow", "pods"),
    [
        (P1C1, "p1c1", "df-cpu-p1c1", ["pip-cpu", "rcv-cpu"]),
        (P2C1, "p2c1", "df-cpu-p2c1", ["pip-cpu", "dsa-gpu", "rcv-cpu"]),
        (P3C1, "p3c1", "df-cpu-p3c1", ["pip-cpu", "rcv-cpu"]),
    ],
)
def test_video_pods_labels_and_ownership(
    scenario: Path, facts: str, dataflow: str, pods: list[str]
) -> None:
    desired, _ = plan(scenario, facts)
    found = [o for o in desired if o["kind"] == "Pod"]
    assert [p["metadata"]["name"] for p in found] == [
        f"{dataflow}-wbfunction-{pod}-pod" for pod in pods
    ]
    for pod, suffix in zip(found, pods, strict=True):
        key, device = suffix.split("-")
        name = pod["metadata"]["name"]
        assert pod["metadata"]["labels"] == {
            "swb/func-type": f"{device}func",
            "swb/func-name": name,
            "app.kubernetes.io/managed-by": "kasugai",
            "kasugai.io/dataflow": dataflow,
            "kasugai.io/function-key": key,
        }
        assert pod["metadata"]["ownerReferences"] == [{**OWNER, "name": dataflow}]
        assert [c["name"] for c in pod["spec"]["containers"]] == [
            f"{device}-container0",
            f"{device}-container1",
        ]
        assert pod["spec"]["containers"][0]["ports"] == [{"containerPort": 5678, "protocol": "UDP"}]
