"""What the node tests share: the tier's inputs, starting a tier, and a workload that leaves
something of every kind on the host. Also imported by the killed-run test's child process."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client

from kasugai.testing import wait_until
from kasugai.testing.node import BUSYBOX_IMAGE, EphemeralNode, NodeInputs

__all__ = ["NodeInputs", "busybox_pod", "run_a_pod_behind_a_service", "start_node"]


def start_node(inputs: NodeInputs, workdir: Path) -> EphemeralNode:
    """A tier with the busybox test image imported."""
    node = EphemeralNode.start(inputs.bin_dir, inputs.pause_archive, workdir)
    try:
        node.import_image(inputs.busybox_archive)
    except BaseException:
        node.stop()
        raise
    return node


def busybox_pod(name: str, command: str, labels: dict[str, str] | None = None) -> dict:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "main",
                    "image": BUSYBOX_IMAGE,
                    "imagePullPolicy": "Never",  # imported, never pulled
                    "command": ["sh", "-c", command],
                }
            ],
        },
    }


def run_a_pod_behind_a_service(node: EphemeralNode) -> None:
    """Give the tier everything to clean up: a sandbox (netns, veth, mounts, cgroups), a
    container, and a Service (kube-proxy's rules)."""
    with node.api_client() as api:
        core = client.CoreV1Api(api)
        core.create_namespaced_pod(
            "default", busybox_pod("web", "exec httpd -f -p 8080 -h /", {"app": "web"})
        )
        core.create_namespaced_service(
            "default",
            {
                "metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
            },
        )
        wait_until(
            lambda: core.read_namespaced_pod("web", "default").status.phase == "Running",
            "Pod web Running",
            timeout=120,
        )
