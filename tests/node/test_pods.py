"""Real Pods on the node tier: the node, containers, exec and logs, a Service through kube-proxy,
and the controller-manager's garbage collector."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator

import pytest
from kubernetes import client
from node_workloads import busybox_pod

from kasugai.testing import wait_until
from kasugai.testing.node import NODE_NAME, EphemeralNode

KUBERNETES_VERSION = "v1.37.2"  # tests/apiserver/go.mod's k8s.io/kubernetes


@pytest.fixture
def core(node: EphemeralNode) -> Iterator[client.CoreV1Api]:
    with node.api_client() as api:
        yield client.CoreV1Api(api)


@pytest.fixture
def namespace(core: client.CoreV1Api) -> str:
    """A fresh namespace, with the ServiceAccount the token controller makes for it."""
    name = f"t-{secrets.token_hex(4)}"
    core.create_namespace({"metadata": {"name": name}})
    wait_until(
        lambda: core.list_namespaced_service_account(name).items, f"{name}'s default ServiceAccount"
    )
    return name


def running(core: client.CoreV1Api, namespace: str, name: str) -> client.V1Pod:
    def probe() -> client.V1Pod | None:
        pod = core.read_namespaced_pod(name, namespace)
        return pod if pod.status.phase == "Running" and pod.status.pod_ip else None

    return wait_until(probe, f"Pod {namespace}/{name} Running", timeout=120, interval=0.2)


def kubectl_ok(node: EphemeralNode, *args: str) -> str:
    result = node.kubectl(*args)
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result.stdout


def test_node_is_ready_and_reports_the_built_version(
    node: EphemeralNode, core: client.CoreV1Api
) -> None:
    found = core.read_node(NODE_NAME)
    ready = {c.type: c.status for c in found.status.conditions}["Ready"]
    assert ready == "True"
    assert found.status.node_info.kubelet_version == KUBERNETES_VERSION
    assert found.status.node_info.container_runtime_version.startswith("containerd://")
    assert [a.address for a in found.status.addresses if a.type == "InternalIP"] == ["10.244.0.1"]
    assert f"Server Version: {KUBERNETES_VERSION}" in kubectl_ok(node, "version")


def test_pod_runs_and_kubectl_exec_and_logs_reach_it(
    node: EphemeralNode, core: client.CoreV1Api, namespace: str
) -> None:
    token = secrets.token_hex(8)
    core.create_namespaced_pod(
        namespace, busybox_pod("talker", f"echo started {token}; exec sleep 3600")
    )
    pod = running(core, namespace, "talker")
    assert pod.spec.node_name == NODE_NAME
    assert pod.status.pod_ip.startswith("10.244.")

    logs = wait_until(
        lambda: token in (out := kubectl_ok(node, "-n", namespace, "logs", "talker")) and out,
        "the Pod's log line",
    )
    assert f"started {token}" in logs
    # exec runs in the container: its hostname is the Pod's name, its token the mounted one.
    out = kubectl_ok(
        node,
        "-n",
        namespace,
        "exec",
        "talker",
        "--",
        "sh",
        "-c",
        "hostname; cat /var/run/secrets/kubernetes.io/serviceaccount/namespace",
    )
    assert out.split() == ["talker", namespace]


def test_cluster_ip_service_routes_to_a_pod_from_another_pod(
    node: EphemeralNode, core: client.CoreV1Api, namespace: str
) -> None:
    token = secrets.token_hex(8)
    core.create_namespaced_pod(
        namespace,
        busybox_pod(
            "web",
            f"mkdir /www && echo {token} > /www/index.html && exec httpd -f -p 8080 -h /www",
            labels={"app": "web"},
        ),
    )
    core.create_namespaced_pod(namespace, busybox_pod("client", "exec sleep 3600"))
    core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    web = running(core, namespace, "web")
    running(core, namespace, "client")
    cluster_ip = core.read_namespaced_service("web", namespace).spec.cluster_ip
    assert cluster_ip.startswith("10.97.")
    assert cluster_ip != web.status.pod_ip

    # Only kube-proxy's rules send the Service's address anywhere: nothing listens on it.
    request = f"printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {cluster_ip} 80"

    def fetch() -> str | None:
        result = node.kubectl("-n", namespace, "exec", "client", "--", "sh", "-c", request)
        return result.stdout if token in result.stdout else None

    reply = wait_until(fetch, f"a reply through {cluster_ip}", timeout=60, interval=0.5)
    assert reply.startswith("HTTP/1.")
    nat = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
    assert f"{namespace}/web" in nat  # kube-proxy's rule for the Service, named after it


def test_deleting_an_owner_garbage_collects_its_pods(
    node: EphemeralNode, core: client.CoreV1Api, namespace: str
) -> None:
    apps = client.AppsV1Api(core.api_client)
    labels = {"app": "owned"}
    template = busybox_pod("unused", "exec sleep 3600", labels)
    del template["metadata"]["name"]
    apps.create_namespaced_replica_set(
        namespace,
        {
            "metadata": {"name": "owner"},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": template},
        },
    )

    def owned_running() -> list[client.V1Pod]:
        pods = core.list_namespaced_pod(namespace, label_selector="app=owned").items
        return pods if len(pods) == 2 and all(p.status.phase == "Running" for p in pods) else []

    pods = wait_until(owned_running, "the ReplicaSet's two Pods Running", timeout=120)
    assert all(p.metadata.owner_references[0].name == "owner" for p in pods)

    # Orphan nothing: the garbage collector, not the ReplicaSet controller, deletes the Pods.
    apps.delete_namespaced_replica_set(
        "owner", namespace, body=client.V1DeleteOptions(propagation_policy="Background")
    )
    wait_until(
        lambda: not core.list_namespaced_pod(namespace, label_selector="app=owned").items,
        "the garbage collector to delete the owned Pods",
        timeout=120,
        interval=0.2,
    )


def test_an_image_that_was_not_imported_is_never_pulled(
    node: EphemeralNode, core: client.CoreV1Api, namespace: str
) -> None:
    pod = busybox_pod("missing", "true")
    pod["spec"]["containers"][0]["image"] = "registry.example/kasugai/not-imported:1"
    pod["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    core.create_namespaced_pod(namespace, pod)

    def pull_failure() -> str | None:
        events = core.list_namespaced_event(namespace, field_selector="involvedObject.name=missing")
        messages = [e.message for e in events.items if e.reason == "Failed"]
        return next((m for m in messages if "pull" in m.lower()), None)

    message = wait_until(pull_failure, "the pull to fail", timeout=120, interval=0.5)
    # containerd's pull went to the tier's closed proxy on loopback, not to the registry.
    assert "127.0.0.1:9" in message, message
