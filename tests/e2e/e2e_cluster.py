"""What the end-to-end tests do to, and read from, the node: kubectl as a user would run it, Pods'
JSON logs, DataFlow statuses, the original samples' names, and waits with a loaded machine's
patience. Also used by benchmarks/cluster.py."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import yaml
from kubernetes import client

from kasugai.adapters.kube.api import FIELD_MANAGER, KubeApi
from kasugai.core import names
from kasugai.testing import wait_until
from kasugai.testing.node import EphemeralNode

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
SAMPLES = REPO / "tests" / "fixtures" / "openkasugai"
ENFORCE = "pod-security.kubernetes.io/enforce"
APP, SIDECAR = "cpu-container0", "cpu-container1"  # kasugai renames a template's containers
SYSTEM = "kasugai-system"
CONTROLLER = "kasugai-controller"  # the Deployment, its Pods' label, and the Lease
PATIENCE = 240.0  # seconds: Pods of Python programs start slowly on two busy cores
T = TypeVar("T")


@attrs.frozen
class Sample:
    """One of the original samples, as its files name things."""

    folder: Path
    namespace: str
    dataflow: str
    keys: tuple[str, ...]  # the chain's functions, in order

    def pod(self, key: str) -> str:
        return f"{self.dataflow}-wbfunction-{key}-cpu-pod"

    def service(self, key: str) -> str:
        return f"{self.dataflow}-wbfunction-{key}-service"

    def chain(self) -> dict[str, Any]:
        (chain,) = yaml.safe_load_all((self.folder / "functionchain.yaml").read_text())
        return dict(chain)


CALC = Sample(
    SAMPLES / "calc-func" / "basic",
    "cpufunc-calcapp",
    "df-calcapp",
    ("send", "plus", "minus", "multiply", "divide", "average", "rcv"),
)
VIDEO = Sample(SAMPLES / "cpugpu-func" / "p1c1", "cpufunc-sample", "df-cpu-p1c1", ("pip", "rcv"))


def wait(probe: Callable[[], T], what: str, timeout: float = PATIENCE) -> T:
    return wait_until(probe, what, timeout=timeout, interval=0.25)


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON log lines of a container's output (GStreamer's own lines are left out)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@attrs.define
class Kube:
    """The node's API as the admin: kubectl for what a user types, the client for polling."""

    node: EphemeralNode
    api: client.ApiClient

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    def kubectl(self, *args: str, timeout: float = 120.0) -> str:
        result = self.node.kubectl(*args, timeout=timeout)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    def kubectl_bytes(self, *args: str, timeout: float = 120.0) -> bytes:
        """kubectl's stdout as bytes (a file read with ``exec ... cat``)."""
        cluster = self.node.cluster
        cache = f"--cache-dir={self.node.layout.workdir / 'kubectl-cache'}"
        argv = [str(cluster.kubectl_path), "--kubeconfig", str(cluster.kubeconfig), cache, *args]
        result = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr.decode()}"
        return result.stdout

    def apply_file(self, path: Path) -> None:
        self.kubectl("apply", "-f", str(path))

    def apply_objects(self, objects: Iterable[dict[str, Any]], scratch: Path) -> None:
        """``kubectl apply`` of objects, as a user applies an edited file."""
        scratch.write_text(yaml.safe_dump_all(list(objects)))
        self.apply_file(scratch)

    # --- reading -------------------------------------------------------------------------

    def pod(self, namespace: str, name: str) -> client.V1Pod | None:
        try:
            return self.core.read_namespaced_pod(name, namespace)
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise

    def running(self, namespace: str, name: str) -> client.V1Pod | None:
        """The Pod once it runs with every container started."""
        pod = self.pod(namespace, name)
        if pod is None or pod.metadata.deletion_timestamp or pod.status.phase != "Running":
            return None
        statuses = pod.status.container_statuses or []
        return pod if statuses and all(s.state.running for s in statuses) else None

    def logs(self, namespace: str, pod: str, container: str) -> list[dict[str, Any]]:
        """The container's JSON log lines so far (none while it has not started)."""
        try:
            text = self.core.read_namespaced_pod_log(pod, namespace, container=container)
        except client.ApiException as error:
            if error.status in (400, 404):  # not started yet, or gone
                return []
            raise
        return json_lines(text)

    def events(self, namespace: str, pod: str, container: str, event: str) -> list[dict[str, Any]]:
        return [e for e in self.logs(namespace, pod, container) if e.get("event") == event]

    def cluster_ip(self, namespace: str, service: str) -> str:
        return str(self.core.read_namespaced_service(service, namespace).spec.cluster_ip)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return KubeApi(self.api).get(kind, namespace, name)

    def dataflow_status(self, sample: Sample) -> dict[str, Any]:
        found = self.get("DataFlow", sample.namespace, sample.dataflow) or {}
        return dict(found.get("status") or {})

    def condition(self, sample: Sample, kind: str) -> dict[str, Any]:
        conditions = self.dataflow_status(sample).get("conditions") or []
        return {c["type"]: c for c in conditions}.get(kind) or {}

    def deployed(self, sample: Sample) -> dict[str, Any] | None:
        """The DataFlow's status once Deployed with every function Running."""
        status = self.dataflow_status(sample)
        phases = {f["phase"] for f in status.get("functions") or []}
        return status if status.get("status") == "Deployed" and phases == {"Running"} else None

    def kasugai_objects(self, namespace: str) -> dict[tuple[str, str], dict[str, Any]]:
        """Every object kasugai made in ``namespace``, by (kind, name)."""
        api = KubeApi(self.api)
        selector = f"{names.MANAGED_BY_LABEL}={names.MANAGER}"
        found = {}
        for kind in ("Pod", "Service", "ConfigMap", "ServiceAccount", "Role", "RoleBinding"):
            items, _ = api.list(kind, namespace, selector)
            found.update({(kind, item["metadata"]["name"]): item for item in items})
        return found

    def resource_versions(self, namespaces: Iterable[str]) -> dict[tuple[str, str, str], str]:
        """What kasugai last wrote, per object: the resourceVersion of its objects and of the
        DataFlows, FunctionChains and FunctionTypes whose status it writes. For a Pod, whose
        status the kubelet keeps writing (it adds the Pod's effective memory limit a minute or
        so after the start), its uid, generation and kasugai's managedFields entry instead."""
        api = KubeApi(self.api)
        versions = {}
        for namespace in namespaces:
            for (kind, name), obj in self.kasugai_objects(namespace).items():
                versions[(namespace, kind, name)] = _written(kind, obj)
            for kind in ("DataFlow", "FunctionChain", "FunctionType"):
                for obj in api.list(kind, namespace)[0]:
                    name = obj["metadata"]["name"]
                    versions[(namespace, kind, name)] = obj["metadata"]["resourceVersion"]
        return versions

    def writers(self, keys: Iterable[tuple[str, str, str]]) -> dict[str, list[str]]:
        """Who last wrote each object, from its managedFields: for an assertion's message."""
        found = {}
        for namespace, kind, name in keys:
            obj = self.get(kind, namespace, name) or {}
            fields = (obj.get("metadata") or {}).get("managedFields") or []
            found[f"{kind}/{namespace}/{name}"] = [
                " ".join(str(f.get(k, "")) for k in ("manager", "operation", "subresource", "time"))
                for f in fields
            ]
            if kind == "Pod":  # what the kubelet saw
                status = obj.get("status") or {}
                found[f"{kind}/{namespace}/{name}"] += [
                    json.dumps(status.get("conditions")),
                    json.dumps(status.get("containerStatuses")),
                ]
        return found

    def lease_holder(self) -> str:
        lease = client.CoordinationV1Api(self.api).read_namespaced_lease(CONTROLLER, SYSTEM)
        return str(lease.spec.holder_identity or "")

    def controller_pods(self) -> list[client.V1Pod]:
        """The controller's Pods that run and are Ready (their /readyz answers)."""
        pods = self.core.list_namespaced_pod(
            SYSTEM, label_selector=f"app.kubernetes.io/name={CONTROLLER}"
        ).items
        return [
            pod
            for pod in pods
            if not pod.metadata.deletion_timestamp
            and any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        ]


def _written(kind: str, obj: dict[str, Any]) -> str:
    metadata = obj["metadata"]
    if kind != "Pod":
        return str(metadata["resourceVersion"])
    ours = [f for f in metadata.get("managedFields") or [] if f.get("manager") == FIELD_MANAGER]
    return json.dumps([metadata["uid"], metadata.get("generation"), ours], sort_keys=True)
